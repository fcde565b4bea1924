// The registry of cancel keys: a key is found only with its exact secret and only while its slot is
// listed; what it finds is the server the slot holds now, counted as in flight.
#include <gtest/gtest.h>

#include <algorithm>
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

TEST(CancelRegistry, IssueGivesEachSlotAFreshKeyOfTheAskedLength) {
    CancelRegistry registry;
    std::vector<std::unique_ptr<CancelSlot>> slots;
    std::set<std::int32_t> pids;
    for (int i = 0; i < 500; ++i) {
        slots.push_back(std::make_unique<CancelSlot>());
        EXPECT_FALSE(slots.back()->registered());
        registry.issue(*slots.back(), i % 2 ? 32 : 4);
        const auto& key = slots.back()->key();
        EXPECT_TRUE(slots.back()->registered());
        EXPECT_GT(key.process_id, 0);
        EXPECT_EQ(key.secret.size(), i % 2 ? 32u : 4u);
        pids.insert(key.process_id);
    }
    EXPECT_EQ(pids.size(), slots.size());
    for (auto& slot : slots) registry.forget(*slot);
}

TEST(CancelRegistry, FindsTheHeldServerOnlyWithTheExactSecret) {
    CancelRegistry registry;
    CancelSlot slot;
    registry.issue(slot, 4);
    const auto key = slot.key();
    // Listed, but holding no server: nothing to cancel.
    EXPECT_EQ(registry.find(key.process_id, key.secret), nullptr);

    auto server = target_with_pid(4242);
    slot.set(server);
    std::string wrong = key.secret;
    wrong[3] = static_cast<char>(wrong[3] ^ 1);
    EXPECT_EQ(registry.find(key.process_id, wrong), nullptr);
    EXPECT_EQ(registry.find(key.process_id, key.secret.substr(0, 3)), nullptr);
    EXPECT_EQ(registry.find(key.process_id + 1, key.secret), nullptr);
    EXPECT_EQ(server->in_flight.load(), 0);

    auto found = registry.find(key.process_id, key.secret);
    ASSERT_EQ(found, server);
    EXPECT_EQ(found->key.process_id, 4242);
    EXPECT_EQ(server->in_flight.load(), 1);  // until forward_cancel is done with it

    slot.clear();
    EXPECT_EQ(registry.find(key.process_id, key.secret), nullptr);
    registry.forget(slot);
}

TEST(CancelRegistry, AForgottenSlotIsNotFoundAndItsIdMayBeIssuedAgain) {
    CancelRegistry registry;
    CancelSlot unlisted;
    registry.forget(unlisted);  // never issued: nothing to forget
    BackendKey key;
    {
        CancelSlot slot;
        registry.issue(slot, 4);
        slot.set(target_with_pid(7));
        key = slot.key();
        registry.forget(slot);  // as the session's destructor, before the slot goes
    }
    EXPECT_EQ(registry.find(key.process_id, key.secret), nullptr);
}

// The registry is an open-addressed table that grows and shrinks: after thousands of sessions come
// and go in random order, every listed key is still found and no forgotten one is.
TEST(CancelRegistry, KeysStayFoundWhileOthersComeAndGoInAnyOrder) {
    CancelRegistry registry;
    std::mt19937 random(12345);
    std::vector<std::unique_ptr<CancelSlot>> live;
    std::vector<BackendKey> gone;
    auto check = [&] {
        for (const auto& slot : live)
            ASSERT_NE(registry.find(slot->key().process_id, slot->key().secret), nullptr) << slot->key().process_id;
        for (const auto& key : gone) ASSERT_EQ(registry.find(key.process_id, key.secret), nullptr) << key.process_id;
    };
    auto forget_one = [&] {
        std::size_t i = random() % live.size();
        registry.forget(*live[i]);
        gone.push_back(live[i]->key());
        live[i] = std::move(live.back());
        live.pop_back();
    };
    const auto target = target_with_pid(1);
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 3000; ++i) {  // grows the table several times
            live.push_back(std::make_unique<CancelSlot>());
            registry.issue(*live.back(), 4);
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
