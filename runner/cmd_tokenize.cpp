// `eprunner tokenize --tokenizer DIR`: reads a JSON array of strings on stdin and
// prints, on one line, a JSON array holding the token ids of each string.
// Users check prompts with it; the tests check the tokenizer with it.
#include <iostream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tokenizer/bpe_tokenizer.h"
#include "core/util/error.h"
#include "runner/commands.h"

namespace ep::cli {
namespace {

nlohmann::json read_string_array(std::istream& in) {
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse errors, and numbers beyond a double (1e999)
    EP_FAIL("stdin: expected a JSON array of strings, got invalid JSON: {}", e.what());
  }
  EP_CHECK(doc.is_array(), "stdin: expected a JSON array of strings, got a JSON {}", doc.type_name());
  for (size_t i = 0; i < doc.size(); ++i)
    EP_CHECK(doc[i].is_string(), "stdin: element {} is a JSON {}, expected a string", i, doc[i].type_name());
  return doc;
}

void run_tokenize(const std::string& tokenizer_dir) {
  const BpeTokenizer tok = BpeTokenizer::load(tokenizer_dir);
  const nlohmann::json strings = read_string_array(std::cin);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : strings) out.push_back(tok.encode(s.get<std::string>()));
  std::cout << out.dump() << "\n";
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Token ids of a JSON array of strings read on stdin");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("--tokenizer", *dir, "folder with vocab.json + merges.txt, or tokenizer.json")->required();
  cmd->callback([dir] { run_tokenize(*dir); });
}

}  // namespace ep::cli
