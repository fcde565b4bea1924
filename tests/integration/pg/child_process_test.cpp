// ChildProcess: the launcher proxy integration tests use for the sluice binary.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>

#include "tests/support/child_process.hpp"
#include "tests/support/free_port.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST(ChildProcess, CapturesOutputAndExitCode) {
    ChildOptions o;
    o.argv = {"sh", "-c", "echo \"out $GREETING\"; echo err >&2; exit 3"};
    o.env = {{"GREETING", "hello"}};
    ChildProcess child(o);
    auto st = child.wait_for_exit(10s);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->code, 3);
    EXPECT_EQ(st->signal, 0);
    EXPECT_FALSE(st->success());
    EXPECT_EQ(child.log(), "out hello\nerr\n");
    EXPECT_TRUE(child.wait_for_log("out h.llo", 1s));
    EXPECT_FALSE(child.wait_for_log("never printed", 1s)) << "an exited child cannot print any more";
}

TEST(ChildProcess, WaitForLogSeesLinesPrintedLater) {
    ChildOptions o;
    o.argv = {"sh", "-c", "sleep 0.2; echo 'listening on 127.0.0.1:6432'; exec sleep 60"};
    ChildProcess child(o);
    auto from = child.log_size();
    EXPECT_TRUE(child.wait_for_log(R"(listening on [0-9.]+:(\d+))", 10s, from));
    EXPECT_TRUE(child.running());
    auto st = child.terminate(5s);
    EXPECT_EQ(st.signal, SIGTERM);
    EXPECT_FALSE(child.running());
}

TEST(ChildProcess, TerminateEscalatesToSigkill) {
    ChildOptions o;
    o.argv = {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"};
    ChildProcess child(o);
    ASSERT_TRUE(child.wait_for_log("ready", 10s));
    auto started = std::chrono::steady_clock::now();
    auto st = child.terminate(300ms);
    EXPECT_EQ(st.signal, SIGKILL);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(ChildProcess, Kill9AndDestructorKill) {
    pid_t pid;
    {
        ChildOptions o;
        o.argv = {"sleep", "60"};
        ChildProcess child(o);
        pid = child.pid();
        EXPECT_GT(pid, 0);
        EXPECT_TRUE(child.running());
    }
    EXPECT_NE(::kill(pid, 0), 0) << "destructor must kill and reap";

    ChildOptions o;
    o.argv = {"sleep", "60"};
    ChildProcess child(o);
    EXPECT_EQ(child.kill9().signal, SIGKILL);
    EXPECT_EQ(child.exit_status()->signal, SIGKILL);
}

TEST(ChildProcess, ExecFailureThrows) {
    ChildOptions o;
    o.argv = {"/nonexistent/sluice-binary"};
    EXPECT_THROW(ChildProcess{o}, std::runtime_error);
    o.argv = {"no-such-program-on-path-sluice"};
    EXPECT_THROW(ChildProcess{o}, std::runtime_error);
}

TEST(ChildProcess, RunToCompletionTimesOut) {
    ChildOptions o;
    o.argv = {"true"};
    EXPECT_TRUE(run_to_completion(o, 10s).success());
    o.argv = {"sleep", "60"};
    EXPECT_THROW(run_to_completion(o, 200ms), std::runtime_error);
}

TEST(FreePort, IsBindable) {
    auto a = free_port();
    EXPECT_GT(a, 0);
}

}  // namespace
}  // namespace sluice::testing
