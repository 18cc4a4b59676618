#pragma once
// The files of web/, compiled in by cmake/embed_files.cmake (the generated source defines
// embedded_files()).
#include "flightplan/http/embedded_file.hpp"

namespace flightplan::dashboard {

using http::EmbeddedFile;

// Every embedded file, in the order the build listed them; the storage is static.
std::span<const EmbeddedFile> embedded_files();

}  // namespace flightplan::dashboard
