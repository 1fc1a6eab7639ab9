// A GoogleTest environment that brings MPI up and down around the whole run, only
// when an MPI launcher started the binary.
#include "mpi_test_env.h"

#include <cstdlib>
#include <memory>

#include "distributed/mpi_env.h"

namespace ep::testing {
namespace {

std::unique_ptr<dist::MpiSession> g_session;

class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (under_mpirun()) g_session = std::make_unique<dist::MpiSession>(nullptr, nullptr);
  }
  void TearDown() override { g_session.reset(); }
};

// Registered before main runs (gtest_main calls RUN_ALL_TESTS, which sets it up).
[[maybe_unused]] auto* const g_env = ::testing::AddGlobalTestEnvironment(new MpiEnvironment);

}  // namespace

bool under_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

}  // namespace ep::testing
