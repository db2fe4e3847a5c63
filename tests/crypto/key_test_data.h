// Shared fixtures for the crypto suite: paths of the cosign test vectors and
// small file helpers.
#pragma once

#include <string>

#include "support/paths.h"
#include "support/process.h"

namespace signet::crypto::test {

inline std::string Vector(const std::string& name) {
  return signet::testing::TestDataDir() + "/cosign/" + name;
}

inline std::string ReadVector(const std::string& name) {
  return signet::testing::ReadFile(Vector(name));
}

}  // namespace signet::crypto::test
