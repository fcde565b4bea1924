// LD_PRELOAD shim for the slow-DNS tests: getaddrinfo() of the host name SLUICE_SLOW_LOOKUP_HOST
// sleeps SLUICE_SLOW_LOOKUP_MS milliseconds (as a DNS server that does not answer would make it),
// then resolves 127.0.0.1 instead; every other name goes to the real getaddrinfo.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*getaddrinfo_fn)(const char*, const char*, const struct addrinfo*, struct addrinfo**);

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints, struct addrinfo** res) {
    getaddrinfo_fn real;
    void* symbol = dlsym(RTLD_NEXT, "getaddrinfo");
    memcpy(&real, &symbol, sizeof real);  // POSIX's way from an object pointer to a function's
    const char* slow = getenv("SLUICE_SLOW_LOOKUP_HOST");
    if (node && slow && strcmp(node, slow) == 0) {
        const char* ms_text = getenv("SLUICE_SLOW_LOOKUP_MS");
        long ms = ms_text ? atol(ms_text) : 5000;
        struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&delay, &delay) != 0) {
        }
        node = "127.0.0.1";
    }
    return real(node, service, hints, res);
}
