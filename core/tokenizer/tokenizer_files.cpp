#include "core/tokenizer/tokenizer_files.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/io/strict_json.h"
#include "core/util/error.h"

namespace ep::tokenizer_detail {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EP_CHECK(in.good(), "{}: cannot open the file for reading", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  EP_CHECK(!in.bad(), "{}: read error", path.string());
  return buffer.str();
}

json read_json_file(const fs::path& path) {
  return io::parse_strict_json(read_whole_file(path), path.string());
}

const json& require_field(const json& object, const char* field, const std::string& where) {
  EP_CHECK(object.is_object(), "{}: expected a JSON object, got {}", where, object.type_name());
  auto it = object.find(field);
  EP_CHECK(it != object.end(), "{}: missing field \"{}\"", where, field);
  return *it;
}

int64_t token_id_from_json(const json& value, const std::string& where) {
  EP_CHECK(value.is_number_integer(), "{}: expected an integer token id, got {} {}", where,
           value.type_name(), value.dump());
  int64_t id = value.get<int64_t>();
  EP_CHECK(id >= 0 && id <= kMaxTokenId, "{}: token id {} is out of range (expected 0..{})", where, id,
           kMaxTokenId);
  return id;
}

std::unordered_map<std::string, int64_t> vocab_from_json(const json& vocab, const std::string& where) {
  EP_CHECK(vocab.is_object(), "{}: expected a JSON object of token -> id, got {}", where, vocab.type_name());
  std::unordered_map<std::string, int64_t> result;
  std::unordered_map<int64_t, std::string> seen_ids;
  result.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    int64_t id = token_id_from_json(it.value(), where + " entry \"" + it.key() + "\"");
    auto [previous, fresh] = seen_ids.emplace(id, it.key());
    EP_CHECK(fresh, "{}: tokens \"{}\" and \"{}\" share id {} (expected one token per id)", where,
             previous->second, it.key(), id);
    result.emplace(it.key(), id);
  }
  EP_CHECK(!result.empty(), "{}: the vocabulary is empty", where);
  return result;
}

int32_t vocab_id_for_merge(const std::unordered_map<std::string, int64_t>& vocab, const std::string& token,
                           const std::string& where, const std::string& vocab_source) {
  auto it = vocab.find(token);
  EP_CHECK(it != vocab.end(), "{}: merge token \"{}\" is not in {}", where, token, vocab_source);
  return static_cast<int32_t>(it->second);
}

MergeRule resolve_merge(const std::unordered_map<std::string, int64_t>& vocab, const std::string& left,
                        const std::string& right, const std::string& where, const std::string& vocab_source) {
  return MergeRule{vocab_id_for_merge(vocab, left, where, vocab_source),
                   vocab_id_for_merge(vocab, right, where, vocab_source),
                   vocab_id_for_merge(vocab, left + right, where, vocab_source)};
}

// "a b" -> {a, b}: exactly one space between two non-empty tokens (byte-level vocab
// strings never contain a space; it is written as "Ġ").
std::optional<std::pair<std::string, std::string>> split_merge_line(std::string_view line) {
  size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size()) return std::nullopt;
  if (line.find(' ', space + 1) != std::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
}

std::vector<MergeRule> merges_from_txt(const fs::path& path, const std::unordered_map<std::string, int64_t>& vocab,
                                       const std::string& vocab_source) {
  std::string text = read_whole_file(path);
  std::vector<MergeRule> rules;
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // ref: HF tokenizers models/bpe/model.rs skips "#version" header lines; blank
    // lines (the trailing newline) carry nothing.
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    std::string where = fmt::format("{} line {}", path.string(), line_number);
    auto pair = split_merge_line(line);
    EP_CHECK(pair.has_value(), "{}: expected two tokens separated by one space, got \"{}\"", where, line);
    rules.push_back(resolve_merge(vocab, pair->first, pair->second, where, vocab_source));
  }
  // An empty file would give a tokenizer that splits every word into bytes: ids the
  // model was never trained on, silently.
  EP_CHECK(!rules.empty(), "{}: no merge rules (the file is empty or holds only a #version line); a BPE "
           "tokenizer needs its merges", path.string());
  return rules;
}

// model.merges entries are "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs.
std::vector<MergeRule> merges_from_json(const json& merges, const std::string& where_prefix,
                                        const std::unordered_map<std::string, int64_t>& vocab,
                                        const std::string& vocab_source) {
  EP_CHECK(merges.is_array(), "{}: expected an array, got {}", where_prefix, merges.type_name());
  std::vector<MergeRule> rules;
  rules.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& entry = merges[i];
    std::string where = fmt::format("{}[{}]", where_prefix, i);
    if (entry.is_string()) {
      auto pair = split_merge_line(entry.get_ref<const std::string&>());
      EP_CHECK(pair.has_value(), "{}: expected \"left right\" (two tokens, one space), got {}", where,
               entry.dump());
      rules.push_back(resolve_merge(vocab, pair->first, pair->second, where, vocab_source));
    } else {
      EP_CHECK(entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string(),
               "{}: expected \"left right\" or [\"left\", \"right\"], got {}", where, entry.dump());
      rules.push_back(resolve_merge(vocab, entry[0].get<std::string>(), entry[1].get<std::string>(), where,
                                    vocab_source));
    }
  }
  return rules;
}

bool optional_bool(const json& object, const char* field, bool fallback) {
  auto it = object.find(field);
  return it != object.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::string content_field(const json& entry, const std::string& where) {
  const json& content = require_field(entry, "content", where);
  EP_CHECK(content.is_string() && !content.get_ref<const std::string&>().empty(),
           "{}: \"content\" must be a non-empty string, got {}", where, content.dump());
  return content.get<std::string>();
}

// tokenizer.json: "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "special": true, ...}]
std::vector<AddedTokenSpec> added_from_tokenizer_json(const json& root, const std::string& path) {
  std::vector<AddedTokenSpec> specs;
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return specs;
  EP_CHECK(it->is_array(), "{} added_tokens: expected an array, got {}", path, it->type_name());
  for (size_t i = 0; i < it->size(); ++i) {
    std::string where = fmt::format("{} added_tokens[{}]", path, i);
    const json& entry = (*it)[i];
    specs.push_back(AddedTokenSpec{content_field(entry, where), token_id_from_json(require_field(entry, "id", where), where + " id"),
                                   optional_bool(entry, "special", false), where});
  }
  return specs;
}

// added_tokens.json: {"<|endoftext|>": 50256, ...}
std::vector<AddedTokenSpec> added_from_added_tokens_json(const fs::path& path) {
  json root = read_json_file(path);
  EP_CHECK(root.is_object(), "{}: expected a JSON object of token -> id, got {}", path.string(), root.type_name());
  std::vector<AddedTokenSpec> specs;
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string where = fmt::format("{} entry \"{}\"", path.string(), it.key());
    EP_CHECK(!it.key().empty(), "{}: empty token", where);
    specs.push_back(AddedTokenSpec{it.key(), token_id_from_json(it.value(), where), false, where});
  }
  return specs;
}

int64_t id_from_key(const std::string& key, const std::string& where) {
  EP_CHECK(!key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos,
           "{}: expected a decimal token id as the key, got \"{}\"", where, key);
  int64_t id = std::stoll(key);
  EP_CHECK(id <= kMaxTokenId, "{}: token id {} is out of range (expected 0..{})", where, id, kMaxTokenId);
  return id;
}

// tokenizer_config.json: "added_tokens_decoder": {"50256": {"content": "<|endoftext|>", "special": true}}
std::vector<AddedTokenSpec> added_from_tokenizer_config(const fs::path& path) {
  json root = read_json_file(path);
  std::vector<AddedTokenSpec> specs;
  EP_CHECK(root.is_object(), "{}: expected a JSON object, got {}", path.string(), root.type_name());
  auto it = root.find("added_tokens_decoder");
  if (it == root.end() || it->is_null()) return specs;
  std::string field = path.string() + " added_tokens_decoder";
  EP_CHECK(it->is_object(), "{}: expected an object of id -> token, got {}", field, it->type_name());
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    std::string where = fmt::format("{} entry \"{}\"", field, entry.key());
    specs.push_back(AddedTokenSpec{content_field(entry.value(), where), id_from_key(entry.key(), where),
                                   optional_bool(entry.value(), "special", false), where});
  }
  return specs;
}

// One list from all sources: a content listed twice must keep one id and an id one
// content, or the files disagree about the tokenizer.
void append_consistent(std::vector<AddedTokenSpec>& all, std::vector<AddedTokenSpec> more) {
  for (auto& spec : more) {
    bool duplicate = false;
    for (const auto& have : all) {
      if (have.content == spec.content) {
        EP_CHECK(have.id == spec.id, "{} gives \"{}\" id {} but {} gives it id {}", spec.source, spec.content,
                 spec.id, have.source, have.id);
        duplicate = true;
      } else {
        EP_CHECK(have.id != spec.id, "{} gives id {} to \"{}\" but {} gives it to \"{}\"", spec.source, spec.id,
                 spec.content, have.source, have.content);
      }
    }
    if (!duplicate) all.push_back(std::move(spec));
  }
}

void check_model_type(const json& model, const std::string& where) {
  auto type = model.find("type");
  if (type == model.end() || type->is_null()) return;  // old files omit it
  EP_CHECK(type->is_string() && type->get<std::string>() == "BPE", "{}.type: expected \"BPE\", got {}", where,
           type->dump());
}

void read_tokenizer_json(const fs::path& path, TokenizerFiles& files) {
  json root = read_json_file(path);
  const std::string name = path.string();
  const json& model = require_field(root, "model", name);
  check_model_type(model, name + " model");
  files.vocab_source = name + " model.vocab";
  files.vocab = vocab_from_json(require_field(model, "vocab", name + " model"), files.vocab_source);
  files.merges = merges_from_json(require_field(model, "merges", name + " model"), name + " model.merges",
                                  files.vocab, files.vocab_source);
  append_consistent(files.added_tokens, added_from_tokenizer_json(root, name));
}

void read_vocab_and_merges(const fs::path& dir, TokenizerFiles& files) {
  fs::path vocab_path = dir / "vocab.json";
  fs::path merges_path = dir / "merges.txt";
  EP_CHECK(fs::is_regular_file(vocab_path),
           "{}: file not found (a tokenizer directory needs tokenizer.json, or vocab.json + merges.txt)",
           vocab_path.string());
  EP_CHECK(fs::is_regular_file(merges_path), "{}: file not found (needed beside {})", merges_path.string(),
           vocab_path.string());
  files.vocab_source = vocab_path.string();
  files.vocab = vocab_from_json(read_json_file(vocab_path), files.vocab_source);
  files.merges = merges_from_txt(merges_path, files.vocab, files.vocab_source);
}

}  // namespace

TokenizerFiles read_tokenizer_files(const fs::path& dir) {
  EP_CHECK(fs::is_directory(dir), "{}: tokenizer directory not found", dir.string());
  TokenizerFiles files;
  if (fs::is_regular_file(dir / "tokenizer.json")) {
    read_tokenizer_json(dir / "tokenizer.json", files);
  } else {
    read_vocab_and_merges(dir, files);
  }
  if (fs::is_regular_file(dir / "added_tokens.json")) {
    append_consistent(files.added_tokens, added_from_added_tokens_json(dir / "added_tokens.json"));
  }
  if (fs::is_regular_file(dir / "tokenizer_config.json")) {
    append_consistent(files.added_tokens, added_from_tokenizer_config(dir / "tokenizer_config.json"));
  }
  return files;
}

}  // namespace ep::tokenizer_detail
