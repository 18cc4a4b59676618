#pragma once
// A file compiled into the binary by cmake/embed_files.cmake: the server serves it from memory and
// never looks for files at run time. Each embedding library declares its own embedded_files()
// (the generated source defines it in that library's namespace).
#include <span>
#include <string_view>

namespace flightplan::http {

struct EmbeddedFile {
  std::string_view name;     // a plain file name, e.g. "app.js"
  std::string_view content;  // the bytes, exactly as in the source tree
  std::string_view digest;   // the first 16 hex digits of the content's SHA-256
};

}  // namespace flightplan::http
