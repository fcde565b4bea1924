// LD_PRELOAD shim for the tests that the common paths throw no C++ exception: every exception
// raised in the process (a throw, std::rethrow_exception, a coroutine's awaited error) passes
// through _Unwind_RaiseException, which this shim wraps to append a line to the file named by
// SLUICE_THROW_LOG before handing over to the real one.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unwind.h>

typedef _Unwind_Reason_Code (*raise_fn)(struct _Unwind_Exception*);

_Unwind_Reason_Code _Unwind_RaiseException(struct _Unwind_Exception* exception) {
    raise_fn real;
    void* symbol = dlsym(RTLD_NEXT, "_Unwind_RaiseException");
    memcpy(&real, &symbol, sizeof real);  // POSIX's way from an object pointer to a function's
    const char* path = getenv("SLUICE_THROW_LOG");
    if (path) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            static const char line[] = "exception raised\n";
            ssize_t written = write(fd, line, sizeof line - 1);
            (void)written;
            close(fd);
        }
    }
    return real(exception);
}
