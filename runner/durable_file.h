// Publishing a file so that a crash, a full disk or a second writer can never
// leave it half-written: the bytes go to a temporary file private to this process
// (<target>.tmp.<host>.<pid>), which is fsync'ed and renamed over the target; the
// folder is fsync'ed so the rename itself survives a power cut. rename(2) is atomic
// on POSIX file systems (also on NFS, for one client), so at every instant the
// target is either the old or the new complete file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ep::runner {

// Replaces `target` by `bytes`. `what` says what the file is for the errors
// ("the results file", "the journal entry of cell gpt2__int_sum"). On any failure
// the temporary file is removed and `target` is untouched; a full disk (ENOSPC,
// EDQUOT) is named as such, with the folder and the size.
// `intact` says what a failure leaves whole (default: "'<target>' is unchanged").
void publish_file(const std::filesystem::path& target, const std::vector<uint8_t>& bytes, const std::string& what,
                  const std::string& intact = "");

// The private temporary name publish_file uses for `target` in this process.
std::filesystem::path private_temporary(const std::filesystem::path& target);

// Whether `path` is a temporary file publish_file (this or an older eprunner) left
// for `target` when its process died: <target>.tmp or <target>.tmp.<host>.<pid>.
bool is_temporary_of(const std::filesystem::path& path, const std::filesystem::path& target);

// fsync a folder (a rename or unlink in it is durable once it is); file systems that
// refuse fsync on folders (EINVAL) are accepted.
void sync_folder(const std::filesystem::path& folder);

}  // namespace ep::runner
