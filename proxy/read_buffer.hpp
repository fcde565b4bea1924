#pragma once
// A fixed-size buffer that sockets read into, left uninitialized: a server connection's 64 KiB
// buffer then holds resident only the pages that responses reached (one for short answers), where
// a zero-filled std::string made all sixteen resident for every connection in the pool.
#include <cstddef>
#include <memory>

namespace sluice::proxy {

class ReadBuffer {
public:
    explicit ReadBuffer(std::size_t size) : data_(std::make_unique_for_overwrite<char[]>(size)), size_(size) {}

    [[nodiscard]] char* data() noexcept { return data_.get(); }
    [[nodiscard]] const char* data() const noexcept { return data_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    char& operator[](std::size_t i) noexcept { return data_[i]; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t size_;
};

}  // namespace sluice::proxy
