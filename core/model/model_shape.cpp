#include "core/model/model_shape.h"

#include "core/util/error.h"

namespace ep {

ModelConfig shape_config(const ModelShape& s, int64_t tokenizer_vocab, std::optional<int64_t> bos_id,
                         std::optional<int64_t> eos_id) {
  EP_CHECK(s.heads > 0 && s.hidden % s.heads == 0, "models.init: hidden = {} is not a multiple of heads = {}",
           s.hidden, s.heads);
  ModelConfig c;
  c.arch = s.arch;
  c.model_type = std::string(name_of(s.arch));
  c.vocab_size = s.vocab > 0 ? s.vocab : tokenizer_vocab;
  c.max_positions = s.max_positions;
  c.hidden = s.hidden;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  c.head_dim = s.hidden / s.heads;
  c.intermediate = s.intermediate > 0 ? s.intermediate : 4 * s.hidden;
  c.tie_word_embeddings = c.arch != Arch::Phi;
  if (c.arch == Arch::Phi) {
    c.partial_rotary_factor = s.partial_rotary_factor;
    c.rotary_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * s.partial_rotary_factor);
  }
  if (c.arch == Arch::Llama) {  // ref: LlamaConfig defaults: silu, rms_norm_eps 1e-6, rope_theta 10000
    c.n_kv_heads = s.kv_heads > 0 ? s.kv_heads : s.heads;
    c.activation = "silu";
    c.layer_norm_eps = 1e-6;
    c.rotary_dim = c.head_dim;
  }
  c.bos_token_id = bos_id;
  c.eos_token_id = eos_id;
  return c;
}

}  // namespace ep
