#pragma once
// Files embedded into the binary at build time by cmake/embed_files.cmake (see api/rest/CMakeLists.txt):
// today the OpenAPI document, so the server never looks for a file at run time.
#include "flightplan/http/embedded_file.hpp"

namespace flightplan::rest {

using http::EmbeddedFile;

// Every embedded file, in the order the build listed them; the storage is static.
std::span<const EmbeddedFile> embedded_files();

}  // namespace flightplan::rest
