// The folder `eprunner export` writes (export_folder.h, docs/export.md).
#ifdef EPRUNNER_WITH_MODELS

#include "runner/export_folder.h"

#include <fstream>
#include <map>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/io/safetensors.h"
#include "core/io/strict_json.h"
#include "core/io/text_file.h"
#include "core/tokenizer/tokenizer_files.h"
#include "core/util/error.h"
#include "runner/durable_file.h"
#include "runner/version.h"

namespace ep::runner {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The tokenizer files of a folder that HF's tokenizers read; others (a README) stay behind.
constexpr const char* kTokenizerFiles[] = {"vocab.json",           "merges.txt",       "tokenizer.json",
                                           "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"};

st::DType st_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return st::DType::F32;
    case torch::kFloat16: return st::DType::F16;
    case torch::kBFloat16: return st::DType::BF16;
    case torch::kFloat64: return st::DType::F64;
    case torch::kInt64: return st::DType::I64;
    default: EP_FAIL("internal: export: no safetensors dtype for {}", c10::toString(t));
  }
}

std::string hf_dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat64: return "float64";
    default: EP_FAIL("internal: export: no HF dtype name for {}", c10::toString(t));
  }
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream o(file, std::ios::binary);
  o << text;
  o.close();
  EP_CHECK(o.good(), "cannot write {} (disk full or no permission?)", file.string());
}

// The model card's account of the intervention (docs/methods.md).
std::string what_was_done(const ExportSummary& s) {
  const std::string bias = fmt::format("bias \"{}\" (exported as \"{}\")", s.bias, s.exported_bias);
  if (s.method == "laser")
    return fmt::format("LASER ({}): the `{}` matrices of those layers replaced by their rank-k approximations, {} of "
                       "their {} singular components removed, no bias", s.label, s.matrices, s.n_frozen,
                       s.n_components);
  if (s.method == "highest")
    return fmt::format("the highest-ΔL control: the {} highest-scoring of {} singular components of the `{}` "
                       "matrices frozen, {}", s.n_frozen, s.n_components, s.matrices, bias);
  if (s.method == "random")
    return fmt::format("the random control ({}): {} of {} singular components of the `{}` matrices, drawn at "
                       "random, frozen, {}", s.label, s.n_frozen, s.n_components, s.matrices, bias);
  return fmt::format("the {} lowest-scoring of {} singular components of the `{}` matrices frozen, {}", s.n_frozen,
                     s.n_components, s.matrices, bias);
}

std::string bias_note(const ExportSummary& s) {
  if (!s.approximate) return "";
  return "the cell used bias = \"position\" (b'[t] = b + D x̄[t], one bias per position counted from the end); "
         "Hugging Face's modules have no per-position bias, so this model adds the mean over all positions, "
         "b' = b + D x̄, at every position: its outputs are not exactly those of the run's pruned model, and its "
         "accuracy may differ from the results file's";
}

// Provenance, the same keys in model.safetensors' __metadata__ (strings) and eprunner_export.json.
std::map<std::string, std::string> provenance(const ExportFolder& f) {
  const ExportSummary& s = f.summary;
  const grid::ModelSpec& m = f.grid.models[f.model];
  std::error_code ec;
  const fs::path results = fs::absolute(f.results, ec);
  std::map<std::string, std::string> p = {
      {"results_file", results.string()},
      {"grid_path", f.run.grid_path},
      {"cell", f.cell.name},
      {"model", f.cell.model},
      {"task", f.cell.task},
      {"method", s.method},
      {"intervention", s.label},
      {"p", fmt::format("{}", s.p)},
      {"n_frozen", std::to_string(s.n_frozen)},
      {"n_components", std::to_string(s.n_components)},
      {"matrices", s.matrices},
      {"granularity", s.granularity},
      {"bias", s.bias},
      {"exported_bias", s.exported_bias},
      {"source", m.checkpoint ? m.checkpoint->string() : fmt::format("[models.init] seeded random model")},
      {"dtype", hf_dtype_name(f.dtype)},
      {"test_accuracy", fmt::format("{}", f.pruned.eval.test.accuracy)},
      {"base_test_accuracy", fmt::format("{}", f.cell.base.test.accuracy)},
      {"test_metric", f.pruned.eval.test.metric},
      {"run_eprunner_version", f.run.eprunner_version},
      {"run_git_commit", f.run.git_commit},
      {"export_eprunner_version", version()},
      {"export_git_commit", git_commit()},
      {"exported_at", utc_now()},
  };
  if (s.approximate) p["bias_note"] = bias_note(s);
  return p;
}

void write_weights(const fs::path& file, const HfTensors& hf, const std::map<std::string, std::string>& prov) {
  std::vector<st::TensorToWrite> list;
  for (const auto& [name, t] : hf.tensors)
    list.push_back({name, st_dtype(t.scalar_type()), t.sizes().vec(), t.data_ptr(), t.nbytes()});
  // "format": "pt" is what transformers expects of a torch checkpoint's metadata.
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  for (const auto& [k, v] : prov) meta["eprunner." + k] = v;
  st::write_safetensors(file, list, meta);
}

// config.json: the checkpoint's own (every field kept), or generated for a GGUF file or
// a seeded random model; its dtype is what the tensors are in.
json config_json(const ExportFolder& f) {
  const grid::ModelSpec& m = f.grid.models[f.model];
  json c;
  if (m.checkpoint && fs::is_directory(*m.checkpoint)) {
    const fs::path file = *m.checkpoint / "config.json";
    c = io::parse_strict_json(io::read_text_file(file, "model config"), file.string());
  } else {
    c = json::parse(to_hf_config_json(f.config));
  }
  const std::string dtype = hf_dtype_name(f.dtype);
  // transformers 5 writes "dtype", older versions "torch_dtype" (5 still reads it).
  if (c.contains("dtype")) c["dtype"] = dtype;
  if (c.contains("torch_dtype") || !c.contains("dtype")) c["torch_dtype"] = dtype;
  if (f.tensors.attention_bias) c["attention_bias"] = true;
  if (f.tensors.mlp_bias) c["mlp_bias"] = true;
  return c;
}

// tokenizer.json for a GGUF file's tokenizer (byte-level BPE), as HF's tokenizers
// library spells the same pre-tokenizer. ref: SmolLM2's tokenizer.json (Digits with
// individual_digits, then ByteLevel); GPT-2's (ByteLevel with its regex).
void write_gguf_tokenizer(const fs::path& gguf, const fs::path& dir, const BpeTokenizer& tok) {
  const tokenizer_detail::GgufTokenizer t = tokenizer_detail::read_gguf_tokenizer(gguf);
  std::vector<std::string> by_id(static_cast<size_t>(tok.vocab_size()));
  for (const auto& [s, id] : t.files.vocab) by_id.at(static_cast<size_t>(id)) = s;
  json merges = json::array();
  for (const tokenizer_detail::MergeRule& r : t.files.merges) merges.push_back({by_id.at(r.left), by_id.at(r.right)});
  json added = json::array();
  for (const auto& a : t.files.added_tokens)
    added.push_back({{"id", a.id}, {"content", a.content}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", a.special}});
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  json pre = byte_level;
  if (t.pre_tokenizer == tokenizer_detail::PreTokenizer::LlamaCppSmolLM)
    pre = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}};
  json vocab = json::object();
  for (const auto& [s, id] : t.files.vocab) vocab[s] = id;
  const json out = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
                    {"normalizer", nullptr}, {"pre_tokenizer", pre}, {"post_processor", byte_level},
                    {"decoder", byte_level},
                    {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                               {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                               {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
                               {"vocab", vocab}, {"merges", merges}}}};
  write_text(dir / "tokenizer.json", out.dump() + "\n");
  json cfg = {{"tokenizer_class", "GPT2Tokenizer"}, {"add_bos_token", t.add_bos}, {"clean_up_tokenization_spaces", false}};
  if (t.bos_id) cfg["bos_token"] = by_id.at(static_cast<size_t>(*t.bos_id));
  if (t.eos_id) cfg["eos_token"] = by_id.at(static_cast<size_t>(*t.eos_id));
  write_text(dir / "tokenizer_config.json", cfg.dump(2) + "\n");
}

// The tokenizer: a folder's files copied, or written from a GGUF file's metadata. A
// folder without tokenizer_config.json gets one naming the byte-level BPE class, so
// AutoTokenizer does not guess from model_type (a Llama model would ask for sentencepiece).
void write_tokenizer(const fs::path& source, const fs::path& dir, const BpeTokenizer& tok) {
  if (!fs::is_directory(source)) return write_gguf_tokenizer(source, dir, tok);
  for (const char* name : kTokenizerFiles)
    if (fs::exists(source / name)) fs::copy_file(source / name, dir / name);
  if (fs::exists(dir / "tokenizer_config.json")) return;
  json cfg = {{"tokenizer_class", "GPT2Tokenizer"}, {"add_bos_token", false}, {"clean_up_tokenization_spaces", false}};
  if (tok.bos_id()) cfg["bos_token"] = tok.id_to_token(*tok.bos_id());
  if (tok.eos_id()) cfg["eos_token"] = tok.id_to_token(*tok.eos_id());
  write_text(dir / "tokenizer_config.json", cfg.dump(2) + "\n");
}

std::string model_card(const ExportFolder& f, const std::map<std::string, std::string>& p) {
  const ExportSummary& s = f.summary;
  const std::string title = s.method == "eigenpruning"
                                ? fmt::format("{} eigenpruned for {} (p = {:g})", f.cell.model, f.cell.task, s.p)
                                : fmt::format("{} for {}: {}", f.cell.model, f.cell.task, s.label);
  std::string card = fmt::format(
      "---\nlibrary_name: transformers\ntags:\n- eigenpruning\n- eprunner\n---\n\n# {}\n\n"
      "Exported by eprunner {} ({}) from cell `{}` of `{}` (grid `{}`, run by eprunner {} ({})): {}. "
      "Test accuracy in the results file: {:.4f} with it, {:.4f} before ({}).\n",
      title, p.at("export_eprunner_version"), p.at("export_git_commit"), f.cell.name, p.at("results_file"),
      f.run.grid_path, f.run.eprunner_version, f.run.git_commit, what_was_done(s), f.pruned.eval.test.accuracy,
      f.cell.base.test.accuracy, f.pruned.eval.test.metric);
  if (s.approximate) card += "\n**Approximation:** " + bias_note(s) + ".\n";
  card += "\nProvenance: `eprunner_export.json` and the `eprunner.*` keys of `model.safetensors`' metadata.\n";
  return card;
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

}  // namespace

void check_export_target(const fs::path& out, bool force) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  EP_CHECK(fs::is_directory(out, ec), "--out {} exists and is not a folder", out.string());
  EP_CHECK(force || fs::is_empty(out, ec), "--out {} exists and is not empty; give --force to replace it",
           out.string());
}

void write_export_folder(const ExportFolder& f, const BpeTokenizer& tokenizer) {
  check_export_target(f.out, f.force);
  const fs::path tmp = private_temporary(f.out);
  remove_quietly(tmp);
  try {
    fs::create_directories(tmp);
    const auto prov = provenance(f);
    write_weights(tmp / "model.safetensors", f.tensors, prov);
    write_text(tmp / "config.json", config_json(f).dump(2) + "\n");
    const grid::ModelSpec& m = f.grid.models[f.model];
    if (m.checkpoint && fs::exists(*m.checkpoint / "generation_config.json"))
      fs::copy_file(*m.checkpoint / "generation_config.json", tmp / "generation_config.json");
    write_tokenizer(m.tokenizer, tmp, tokenizer);
    json j = {{"format", "eprunner-export"}, {"format_version", 1}};
    for (const auto& [k, v] : prov) j[k] = v;
    j["p"] = f.summary.p;
    j["n_frozen"] = f.summary.n_frozen;
    j["n_components"] = f.summary.n_components;
    j["test_accuracy"] = f.pruned.eval.test.accuracy;
    j["base_test_accuracy"] = f.cell.base.test.accuracy;
    j["grid_text"] = f.run.grid_text;
    write_text(tmp / "eprunner_export.json", j.dump(2) + "\n");
    write_text(tmp / "README.md", model_card(f, prov));
    for (const auto& e : fs::directory_iterator(tmp)) {
      if (!e.is_regular_file()) continue;
      const int fd = ::open(e.path().c_str(), O_RDONLY);  // durable before the rename publishes them
      if (fd >= 0) ::fsync(fd), ::close(fd);
    }
    sync_folder(tmp);
    if (fs::exists(f.out)) fs::remove_all(f.out);  // empty, or --force
    fs::rename(tmp, f.out);
    sync_folder(f.out.has_parent_path() ? f.out.parent_path() : fs::path("."));
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
}

void write_test_logits(const fs::path& file, const TestLogits& t) {
  std::vector<std::pair<std::string, torch::Tensor>> keep = {
      {"input_ids", t.input_ids}, {"attention_mask", t.attention_mask}, {"position_ids", t.position_ids},
      {"targets", t.targets},     {"logits", t.logits},     {"logits_base", t.logits_base}};
  if (t.logits_exported.defined()) keep.emplace_back("logits_exported", t.logits_exported);
  std::vector<st::TensorToWrite> list;
  for (auto& [name, x] : keep) {
    x = x.to(torch::kCPU).contiguous();
    list.push_back({name, st_dtype(x.scalar_type()), x.sizes().vec(), x.data_ptr(), x.nbytes()});
  }
  st::write_safetensors(file, list);
}

}  // namespace ep::runner

#endif  // EPRUNNER_WITH_MODELS
