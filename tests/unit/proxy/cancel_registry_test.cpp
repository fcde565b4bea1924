// The registry of cancel keys: a key is found only with its exact secret and only while its slot is
// listed; what it finds is the server the slot holds now, counted as in flight.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "proxy/cancel_registry.hpp"

namespace sluice::proxy {
namespace {

std::shared_ptr<const CancelTarget> target_with_pid(std::int32_t server_pid) {
    auto t = std::make_shared<CancelTarget>();
    t->key = BackendKey{server_pid, "srvk"};
    return t;
}

// The key a client was given: its slot's process id and the secret issue() returned.
BackendKey issue(CancelRegistry& registry, CancelSlot& slot, bool long_secret = false) {
    auto secret = registry.issue(slot, long_secret);
    return BackendKey{slot.process_id(), std::move(secret)};
}

TEST(CancelRegistry, IssueGivesEachSlotAFreshKeyOfTheAskedLength) {
    CancelRegistry registry;
    std::vector<std::unique_ptr<CancelSlot>> slots;
    std::set<std::int32_t> pids;
    std::set<std::string> secrets;
    for (int i = 0; i < 500; ++i) {
        slots.push_back(std::make_unique<CancelSlot>());
        EXPECT_FALSE(slots.back()->registered());
        const auto key = issue(registry, *slots.back(), i % 2 == 1);
        EXPECT_TRUE(slots.back()->registered());
        EXPECT_GT(key.process_id, 0);
        EXPECT_EQ(key.secret.size(), i % 2 ? 32u : 4u);
        pids.insert(key.process_id);
        if (i % 2) secrets.insert(key.secret);
    }
    EXPECT_EQ(pids.size(), slots.size());
    EXPECT_EQ(secrets.size(), slots.size() / 2);  // 32 derived bytes each: no two alike
    for (auto& slot : slots) registry.forget(*slot);
}

TEST(CancelRegistry, FindsTheHeldServerOnlyWithTheExactSecret) {
    for (bool long_secret : {false, true}) {
        CancelRegistry registry;
        CancelSlot slot;
        const auto key = issue(registry, slot, long_secret);
        // Listed, but holding no server: nothing to cancel.
        EXPECT_EQ(registry.find(key.process_id, key.secret), nullptr);

        auto server = target_with_pid(4242);
        slot.set(server);
        for (std::size_t i = 0; i < key.secret.size(); ++i) {
            std::string wrong = key.secret;
            wrong[i] = static_cast<char>(wrong[i] ^ 1);
            EXPECT_EQ(registry.find(key.process_id, wrong), nullptr) << "byte " << i;
        }
        EXPECT_EQ(registry.find(key.process_id, key.secret.substr(0, 3)), nullptr);
        // A 3.2 client's key is not found by its first 4 bytes (a 3.0-length guess).
        EXPECT_EQ(registry.find(key.process_id, key.secret.substr(0, 4)), long_secret ? nullptr : server);
        if (!long_secret) server->in_flight.fetch_sub(1);
        EXPECT_EQ(registry.find(key.process_id + 1, key.secret), nullptr);
        EXPECT_EQ(registry.find(0, key.secret), nullptr);
        EXPECT_EQ(server->in_flight.load(), 0);

        auto found = registry.find(key.process_id, key.secret);
        ASSERT_EQ(found, server);
        EXPECT_EQ(found->key.process_id, 4242);
        EXPECT_EQ(server->in_flight.load(), 1);  // until forward_cancel is done with it

        slot.clear();
        EXPECT_EQ(registry.find(key.process_id, key.secret), nullptr);
        registry.forget(slot);
    }
}

TEST(CancelRegistry, AForgottenSlotIsNotFoundAndItsIdMayBeIssuedAgain) {
    CancelRegistry registry;
    CancelSlot unlisted;
    registry.forget(unlisted);  // never issued: nothing to forget
    BackendKey key;
    {
        CancelSlot slot;
        key = issue(registry, slot);
        slot.set(target_with_pid(7));
        registry.forget(slot);  // as the session's destructor, before the slot goes
    }
    EXPECT_EQ(registry.find(key.process_id, key.secret), nullptr);
}

// Secrets are derived, not stored: they must still differ between registries (a key drawn at
// start) and between issues of the same process id (the issue's number).
TEST(CancelRegistry, SecretsDifferAcrossRegistriesAndIssues) {
    CancelRegistry a, b;
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        CancelSlot sa, sb;
        seen.insert(issue(a, sa, true).secret);
        seen.insert(issue(b, sb, true).secret);
        a.forget(sa);
        b.forget(sb);
    }
    EXPECT_EQ(seen.size(), 400u);
}

// The registry is an open-addressed table that grows and shrinks: after thousands of sessions come
// and go in random order, every listed key is still found and no forgotten one is.
TEST(CancelRegistry, KeysStayFoundWhileOthersComeAndGoInAnyOrder) {
    CancelRegistry registry;
    std::mt19937 random(12345);
    std::vector<std::unique_ptr<CancelSlot>> live;
    std::vector<BackendKey> gone;
    std::map<const CancelSlot*, BackendKey> keys;  // of the live slots
    auto check = [&] {
        for (const auto& slot : live)
            ASSERT_NE(registry.find(slot->process_id(), keys.at(slot.get()).secret), nullptr) << slot->process_id();
        for (const auto& key : gone) ASSERT_EQ(registry.find(key.process_id, key.secret), nullptr) << key.process_id;
    };
    auto forget_one = [&] {
        std::size_t i = random() % live.size();
        registry.forget(*live[i]);
        gone.push_back(keys.at(live[i].get()));
        keys.erase(live[i].get());
        live[i] = std::move(live.back());
        live.pop_back();
    };
    const auto target = target_with_pid(1);
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 3000; ++i) {  // grows the table several times
            live.push_back(std::make_unique<CancelSlot>());
            keys[live.back().get()] = issue(registry, *live.back());
            live.back()->set(target);
            if (i % 3 == 0) forget_one();
        }
        check();
        while (live.size() > 10) forget_one();  // shrinks it again
        check();
        gone.resize(std::min<std::size_t>(gone.size(), 500));  // a process id may be issued again
    }
    for (auto& slot : live) registry.forget(*slot);
}

}  // namespace
}  // namespace sluice::proxy
