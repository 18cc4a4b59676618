# Every third-party dependency is found here, from Debian's packages (see scripts/install-deps.sh).
find_package(nlohmann_json 3.10 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)

# libjq ships neither a CMake package nor a pkg-config file on Debian 12.
find_path(JQ_INCLUDE_DIR jq.h REQUIRED)
find_library(JQ_LIBRARY jq REQUIRED)
add_library(flightplan_jq INTERFACE)
target_include_directories(flightplan_jq SYSTEM INTERFACE ${JQ_INCLUDE_DIR})
target_link_libraries(flightplan_jq INTERFACE ${JQ_LIBRARY})

# hiredis 0.14 (Debian 12) ships a pkg-config file but no CMake package. Only adapters/redis/src
# links it; its headers never appear in a public header.
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
add_library(flightplan_hiredis INTERFACE)
target_link_libraries(flightplan_hiredis INTERFACE PkgConfig::HIREDIS)

# Boost 1.81: Beast/Asio headers for the HTTP server; Boost.Test for the tests.
find_package(Threads REQUIRED)
if(FLIGHTPLAN_BUILD_TESTS)
  find_package(Boost 1.81.0 EXACT REQUIRED COMPONENTS unit_test_framework CONFIG)
else()
  find_package(Boost 1.81.0 EXACT REQUIRED CONFIG)
endif()
if(FLIGHTPLAN_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
