// eprunner's version and the git commit it was built from (runner/version.cpp.in,
// written at configure time; a new commit re-runs the configure step).
#pragma once

namespace ep {

const char* version();     // "0.1.0"
const char* git_commit();  // 12 hex digits, or "unknown" outside a git checkout

}  // namespace ep
