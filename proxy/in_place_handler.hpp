#pragma once
// A completion handler kept in place, in its operation's own storage, whose type is known only
// where it is stored: nothing allocated per operation (Asio's any_completion_handler allocates).
// The one rule both of its users (receive_op.hpp, Pool's resumption) need: the handler leaves its
// place before it runs, exactly once, called, destroyed uncalled, or posted to its own executor.
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "proxy/asio.hpp"

namespace sluice::proxy {

template <std::size_t Size, class... Args>
class InPlaceHandler {
public:
    enum class Completion {
        call,     // here, now
        destroy,  // uncalled, as Asio destroys its operations' handlers when its context goes
        post,     // to the handler's own executor, as asio::post
    };

    InPlaceHandler() noexcept = default;
    InPlaceHandler(const InPlaceHandler&) = delete;
    InPlaceHandler& operator=(const InPlaceHandler&) = delete;
    ~InPlaceHandler() {
        if (complete_) complete_(storage_, Completion::destroy, Args{}...);
    }

    template <class H>
    static constexpr bool fits = sizeof(H) <= Size && alignof(H) <= alignof(std::max_align_t) &&
                                 std::is_nothrow_move_constructible_v<H>;

    // Only when empty().
    template <class Handler>
    void emplace(Handler&& handler) noexcept {
        using H = std::decay_t<Handler>;
        static_assert(fits<H>);
        ::new (static_cast<void*>(storage_)) H(std::forward<Handler>(handler));
        complete_ = &complete_as<H>;
    }

    [[nodiscard]] bool empty() const noexcept { return complete_ == nullptr; }

    // Empties the place first: by the time the handler runs, another may be stored here, or the
    // object holding this gone. Only when !empty().
    void complete(Completion how, Args... args) { std::exchange(complete_, nullptr)(storage_, how, args...); }

private:
    template <class H>
    static void complete_as(unsigned char* storage, Completion how, Args... args) {
        H* stored = std::launder(reinterpret_cast<H*>(storage));
        H handler(std::move(*stored));
        stored->~H();
        switch (how) {
            case Completion::call: std::move(handler)(args...); break;
            case Completion::destroy: break;
            case Completion::post: asio::post(asio::append(std::move(handler), args...)); break;
        }
    }

    void (*complete_)(unsigned char*, Completion, Args...) = nullptr;
    alignas(std::max_align_t) unsigned char storage_[Size];
};

}  // namespace sluice::proxy
