#pragma once
// Internal to the loader: the key tables of config/keys.cpp.
#include <span>
#include <vector>

#include "config/node_reader.hpp"

namespace sluice::config {

// The top level of a users_file: [[users]] entries only.
struct UsersFile {
    std::vector<User> users;
};

std::span<const KeySpec<Config>> config_keys();
std::span<const KeySpec<UsersFile>> users_file_keys();

}  // namespace sluice::config
