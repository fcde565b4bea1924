// Issue 11: mode = "audit" lets statements run and logs what the rules would block; every blocked
// or audited statement is one JSON line (time, client, user, database, application_name, rule,
// verdict, fingerprint, statement with its literals replaced), with no literal value in the log.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/integration/guard/guard_support.hpp"

namespace sluice::testing::guard {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        if (end > at) out.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

bool has(const std::string& line, const std::string& part) { return line.find(part) != std::string::npos; }

TEST(GuardAudit, AuditModeRunsTheStatementAndLogsIt) {
    reset_fixture();
    const fs::path log = temp_path("sluice-audit");
    {
        SluiceProcess sluice(guard_config("mode = \"audit\"\naudit_log = \"" + log.string() + "\"\n"));
        auto o = sluice_client(sluice, kSuperuser);
        o.parameters.emplace_back("application_name", "nightly-job");
        auto c = BlockingClient::connect(o);
        auto r = c.simple_query("UPDATE g.accounts SET name = 'hunter2-secret'");
        EXPECT_TRUE(r.ok()) << r.sqlstate();
        EXPECT_TRUE(c.simple_query("SELECT 1").ok());
        EXPECT_TRUE(c.extended_query("DELETE FROM g.scratch").ok());
    }
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.accounts WHERE name = 'hunter2-secret'")[0][0], "5");
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.scratch")[0][0], "0");

    const auto lines = lines_of(read_file(log));
    ASSERT_EQ(lines.size(), 2u) << read_file(log);
    for (const auto& line : lines) {
        EXPECT_EQ(line.front(), '{') << line;
        EXPECT_EQ(line.back(), '}') << line;
        EXPECT_TRUE(has(line, "\"time\":\"20")) << line;
        EXPECT_TRUE(has(line, "\"client\":\"127.0.0.1:")) << line;
        EXPECT_TRUE(has(line, "\"user\":\"postgres\"")) << line;
        EXPECT_TRUE(has(line, "\"database\":\"postgres\"")) << line;
        EXPECT_TRUE(has(line, "\"application_name\":\"nightly-job\"")) << line;
        EXPECT_TRUE(has(line, "\"verdict\":\"audit\"")) << line;
        EXPECT_TRUE(has(line, "\"fingerprint\":\"")) << line;
        EXPECT_FALSE(has(line, "\"fingerprint\":\"\"")) << line;
        EXPECT_FALSE(has(line, "hunter2")) << "a literal reached the audit log: " << line;
    }
    EXPECT_TRUE(has(lines[0], "\"rule\":\"update_without_where\"")) << lines[0];
    EXPECT_TRUE(has(lines[0], "\"table\":\"g.accounts\"")) << lines[0];
    EXPECT_TRUE(has(lines[0], "\"statement\":\"UPDATE g.accounts SET name = $1\"")) << lines[0];
    EXPECT_TRUE(has(lines[1], "\"rule\":\"delete_without_where\"")) << lines[1];
    fs::remove(log);
}

TEST(GuardAudit, EnforceLogsEachBlockAndFollowsARotatedFile) {
    reset_fixture();
    const fs::path log = temp_path("sluice-audit");
    const fs::path rotated = log.string() + ".1";
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"" + log.string() + "\"\n"));
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    EXPECT_EQ(c.simple_query("TRUNCATE g.accounts").sqlstate(), "42501");
    fs::rename(log, rotated);  // what logrotate does
    std::this_thread::sleep_for(1100ms);  // sluice looks at the path at most once a second
    EXPECT_EQ(c.simple_query("DROP TABLE g.accounts").sqlstate(), "42501");

    const auto old_lines = lines_of(read_file(rotated));
    ASSERT_EQ(old_lines.size(), 1u);
    EXPECT_TRUE(has(old_lines[0], "\"rule\":\"truncate\"")) << old_lines[0];
    EXPECT_TRUE(has(old_lines[0], "\"verdict\":\"blocked\"")) << old_lines[0];
    const auto new_lines = lines_of(read_file(log));
    ASSERT_EQ(new_lines.size(), 1u) << "the rotated-away file was not reopened";
    EXPECT_TRUE(has(new_lines[0], "\"rule\":\"drop\"")) << new_lines[0];
    fs::remove(log);
    fs::remove(rotated);
}

TEST(GuardAudit, AnAuditLogThatCannotBeOpenedStopsTheStart) {
    SluiceConfig config = guard_config("mode = \"enforce\"\naudit_log = \"/nonexistent-dir/audit.jsonl\"\n");
    try {
        SluiceProcess sluice(config);
        sluice.skip_exit_check();
        ADD_FAILURE() << "sluice started with an audit log it cannot open";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot open guard.audit_log \"/nonexistent-dir/audit.jsonl\""),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace sluice::testing::guard
