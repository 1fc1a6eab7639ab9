// A checkpoint = one or more safetensors files seen as one set of named tensors.
//
// Layouts (ref: transformers modeling_utils, SAFE_WEIGHTS_NAME / SAFE_WEIGHTS_INDEX_NAME):
//   folder/model.safetensors                      a single file
//   folder/model.safetensors.index.json           {"metadata": {...}, "weight_map": {tensor: shard}}
//   folder/model-0000i-of-0000n.safetensors       the shards it names
// Like transformers, a folder's model.safetensors wins over an index next to it.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/io/text_file.h"
#include "core/io/strict_json.h"
#include "core/util/error.h"

namespace ep::st {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kSingleFileName = "model.safetensors";
constexpr const char* kIndexFileName = "model.safetensors.index.json";

using WeightMap = std::map<std::string, std::string>;        // tensor -> shard file name
using ShardFiles = std::map<std::string, std::shared_ptr<SafetensorsFile>>;  // by shard name
using TensorIndex = std::map<std::string, const TensorView*, std::less<>>;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// What to open: a single safetensors file, or an index naming shards.
struct Source {
  fs::path path;
  bool is_index;
};

// A folder without the standard names is still accepted when it holds exactly one
// .safetensors file (e.g. exported as "weights.safetensors").
fs::path find_lone_safetensors(const fs::path& folder) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().extension() == ".safetensors")
      found.push_back(entry.path());
  EP_CHECK(!found.empty(), "{}: no checkpoint found (expected {}, {} or one .safetensors file)",
           folder.string(), kSingleFileName, kIndexFileName);
  if (found.size() > 1) {
    std::string names;
    for (const auto& p : found) names += " " + p.filename().string();
    EP_FAIL("{}: ambiguous checkpoint: no {} or {}, and several .safetensors files:{}",
            folder.string(), kSingleFileName, kIndexFileName, names);
  }
  return found.front();
}

Source locate(const fs::path& folder_or_file) {
  std::error_code ec;
  EP_CHECK(fs::exists(folder_or_file, ec), "{}: checkpoint not found (no such file or folder)",
           folder_or_file.string());
  if (!fs::is_directory(folder_or_file, ec))
    return {folder_or_file, ends_with(folder_or_file.filename().string(), ".index.json")};
  if (fs::is_regular_file(folder_or_file / kSingleFileName, ec))
    return {folder_or_file / kSingleFileName, false};
  if (fs::is_regular_file(folder_or_file / kIndexFileName, ec))
    return {folder_or_file / kIndexFileName, true};
  return {find_lone_safetensors(folder_or_file), false};
}

// Shard names come from a file we did not write: only plain names in the index's
// folder are accepted, never paths that lead elsewhere.
void check_shard_name(const fs::path& index_path, const std::string& tensor,
                      const std::string& shard) {
  fs::path p(shard);
  EP_CHECK(!shard.empty() && p.filename() == p && shard != "." && shard != "..",
           "{}: weight_map entry for tensor '{}' must be a file name in the index's folder, got '{}'",
           index_path.string(), tensor, shard);
}

WeightMap read_weight_map(const fs::path& index_path) {
  const json root = io::parse_strict_json(io::read_text_file(index_path, "safetensors index"), index_path.string());
  EP_CHECK(root.is_object(), "{}: index must be a JSON object, got {}", index_path.string(),
           root.type_name());
  auto it = root.find("weight_map");
  EP_CHECK(it != root.end() && it->is_object(),
           "{}: index needs a \"weight_map\" object (tensor name -> shard file name)",
           index_path.string());
  EP_CHECK(!it->empty(), "{}: index has an empty \"weight_map\"", index_path.string());
  WeightMap map;
  for (auto& [tensor, shard] : it->items()) {
    EP_CHECK(shard.is_string(), "{}: weight_map entry for tensor '{}' must be a string, got {}",
             index_path.string(), tensor, shard.type_name());
    check_shard_name(index_path, tensor, shard.get<std::string>());
    map.emplace(tensor, shard.get<std::string>());
  }
  return map;
}

// Opens each shard once, however many tensors name it.
ShardFiles open_shards(const fs::path& index_path, const WeightMap& weight_map) {
  ShardFiles shards;
  const fs::path folder = index_path.parent_path();
  for (const auto& [tensor, shard] : weight_map) {
    if (shards.count(shard)) continue;
    std::error_code ec;
    EP_CHECK(fs::is_regular_file(folder / shard, ec),
             "{}: index names shard '{}' (for tensor '{}'), but {} does not exist",
             index_path.string(), shard, tensor, (folder / shard).string());
    shards.emplace(shard, SafetensorsFile::open(folder / shard));
  }
  return shards;
}

TensorIndex index_tensors(const std::vector<std::shared_ptr<SafetensorsFile>>& files) {
  TensorIndex index;
  std::map<std::string, const SafetensorsFile*> owner;
  for (const auto& file : files) {
    for (const auto& name : file->names()) {
      auto [it, inserted] = owner.emplace(name, file.get());
      EP_CHECK(inserted, "tensor '{}' is present in two shards: {} and {}", name,
               it->second->path().string(), file->path().string());
      index.emplace(name, &file->get(name));
    }
  }
  return index;
}

// The index and the shards must describe the same tensors: a tensor the index
// places in a shard must be there, and a shard must not hold unlisted tensors
// (a stale index would otherwise load a mix of two checkpoints).
void check_weight_map(const fs::path& index_path, const WeightMap& weight_map,
                      const ShardFiles& shards) {
  for (const auto& [tensor, shard] : weight_map)
    EP_CHECK(shards.at(shard)->contains(tensor),
             "{}: index places tensor '{}' in shard '{}', but that shard has no such tensor",
             index_path.string(), tensor, shard);
  for (const auto& [shard, file] : shards)
    for (const auto& name : file->names()) {
      auto it = weight_map.find(name);
      EP_CHECK(it != weight_map.end() && it->second == shard,
               "{}: shard '{}' holds tensor '{}', which the index's weight_map does not place there",
               index_path.string(), shard, name);
    }
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& folder_or_file) {
  Checkpoint ckpt;
  ckpt.where_ = folder_or_file;
  Source source = locate(folder_or_file);
  if (!source.is_index) {
    ckpt.files_.push_back(SafetensorsFile::open(source.path));
    ckpt.index_ = index_tensors(ckpt.files_);
    return ckpt;
  }
  WeightMap weight_map = read_weight_map(source.path);
  ShardFiles shards = open_shards(source.path, weight_map);
  for (const auto& [name, file] : shards) ckpt.files_.push_back(file);
  ckpt.index_ = index_tensors(ckpt.files_);  // first, so a duplicated tensor is named as such
  check_weight_map(source.path, weight_map, shards);
  return ckpt;
}

bool Checkpoint::contains(std::string_view name) const { return index_.find(name) != index_.end(); }

const TensorView& Checkpoint::get(std::string_view name) const {
  auto it = index_.find(name);
  EP_CHECK(it != index_.end(), "{}: checkpoint has no tensor named '{}' ({} tensors)",
           where_.string(), name, index_.size());
  return *it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, view] : index_) out.push_back(name);
  return out;
}

int64_t Checkpoint::total_bytes() const {
  int64_t total = 0;
  for (const auto& [name, view] : index_) total += static_cast<int64_t>(view->nbytes);
  return total;
}

}  // namespace ep::st
