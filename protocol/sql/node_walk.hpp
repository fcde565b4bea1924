#pragma once
// The generic walk over libpg_query's protobuf-c tree, shared by the classifiers of protocol/sql
// (session_state.cpp, guard.cpp). It reads the field descriptors, so every node kind is covered,
// including ones added by a future libpg_query, without a hand-written case per node.
// Private to protocol/sql: it includes protobuf-c's header, which the public headers do not.
#include <protobuf-c/protobuf-c.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::sql {

// Calls visit(child) for every message directly below `message`, in field order.
template <class Visit>
void for_each_child(const ProtobufCMessage* message, Visit&& visit) {
    const ProtobufCMessageDescriptor* descriptor = message->descriptor;
    const auto* base = reinterpret_cast<const unsigned char*>(message);
    for (unsigned i = 0; i < descriptor->n_fields; ++i) {
        const ProtobufCFieldDescriptor& field = descriptor->fields[i];
        if (field.type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if ((field.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
            // A oneof's members share one pointer: only the selected one is valid.
            const auto selected = *reinterpret_cast<const std::uint32_t*>(base + field.quantifier_offset);
            if (selected != field.id) continue;
        }
        if (field.label == PROTOBUF_C_LABEL_REPEATED) {
            const auto count = *reinterpret_cast<const std::size_t*>(base + field.quantifier_offset);
            const auto* items = *reinterpret_cast<ProtobufCMessage* const* const*>(base + field.offset);
            for (std::size_t k = 0; k < count; ++k)
                if (items[k] != nullptr) visit(static_cast<const ProtobufCMessage*>(items[k]));
        } else {
            const auto* child = *reinterpret_cast<const ProtobufCMessage* const*>(base + field.offset);
            if (child != nullptr) visit(child);
        }
    }
}

// Every message below `root` (not root itself), depth first in field order (statement order for
// what the client sees), with an explicit stack: expression trees can be thousands of levels
// deep. visit(message) returns false to skip that message's children.
template <class Visit>
void walk_below(const ProtobufCMessage* root, Visit&& visit) {
    std::vector<const ProtobufCMessage*> stack;
    auto push_children = [&stack](const ProtobufCMessage* message) {
        const std::size_t first = stack.size();
        for_each_child(message, [&stack](const ProtobufCMessage* child) { stack.push_back(child); });
        // Pushed in field order; reversed so the first field is visited first.
        std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(first), stack.end());
    };
    push_children(root);
    while (!stack.empty()) {
        const ProtobufCMessage* message = stack.back();
        stack.pop_back();
        if (visit(message)) push_children(message);
    }
}

}  // namespace sluice::sql
