#pragma once
// Checks of the PEM files a TLS setting names, so that a bad file fails at start (and under
// --check) with the key and the reason, not at the first client's handshake.
#include <optional>
#include <string>

namespace sluice::config {

// Why `path` is not a readable PEM file holding at least one certificate; nullopt when it is.
std::optional<std::string> certificate_file_problem(const std::string& path);
// Why `key_path` is not a readable PEM private key for the first certificate of `cert_path`.
std::optional<std::string> key_file_problem(const std::string& key_path, const std::string& cert_path);

}  // namespace sluice::config
