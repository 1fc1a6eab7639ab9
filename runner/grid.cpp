// The grid file's schema: which keys each table has, their types, defaults and
// allowed values (docs/grid-format.md is the user's copy of this file).
#include "runner/grid.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <fstream>
#include <iterator>
#include <set>

#include "core/util/error.h"
#include "experiments/task_registry.h"
#include "runner/toml_table.h"

namespace ep::grid {
namespace {

namespace fs = std::filesystem;

// Names become HDF5 group names and CSV fields: keep them to a safe alphabet, and
// keep "__" free since it joins model and task in cell names.
void check_name(TomlTable& t, std::string_view key, const std::string& name) {
  bool ok = !name.empty() && name != "." && name != ".." && name.find("__") == std::string::npos;
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '+');
  if (!ok)
    t.fail_at(key, fmt::format("'{}' is not a usable name: use letters, digits, '-', '_', '.', '+' "
                               "and no '__' (it separates model and task in cell names)", name));
}

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal();
}

int64_t positive(TomlTable& t, std::string_view key, std::optional<int64_t> value) {
  if (value && *value <= 0) t.fail_at(key, fmt::format("must be > 0, got {}", *value));
  return value.value_or(0);
}

uint64_t seed_value(TomlTable& t, std::string_view key, uint64_t fallback) {
  auto seed = t.opt_integer(key);
  if (!seed) return fallback;
  if (*seed < 0) t.fail_at(key, fmt::format("a seed must be >= 0, got {}", *seed));
  return static_cast<uint64_t>(*seed);
}

double fraction(TomlTable& t, std::string_view key, double fallback, bool allow_zero) {
  double v = t.opt_number(key).value_or(fallback);
  bool ok = allow_zero ? (v >= 0.0 && v < 1.0) : (v > 0.0 && v < 1.0);
  if (!ok) t.fail_at(key, fmt::format("must be in {}0, 1), got {}", allow_zero ? "[" : "(", v));
  return v;
}

// ---- models ----------------------------------------------------------------------

InitShape read_init(TomlTable t, uint64_t grid_seed) {
  InitShape s;
  if (!t.has("arch")) t.fail("missing required key 'arch'");
  s.arch = t.required_choice<Arch>("arch");
  s.layers = positive(t, "layers", t.integer("layers"));
  s.hidden = positive(t, "hidden", t.integer("hidden"));
  s.heads = positive(t, "heads", t.integer("heads"));
  s.max_positions = positive(t, "max_positions", t.integer("max_positions"));
  s.intermediate = positive(t, "intermediate", t.opt_integer("intermediate"));
  s.vocab = positive(t, "vocab", t.opt_integer("vocab"));
  if (auto kv = t.opt_integer("kv_heads")) {
    if (s.arch != Arch::Llama) t.fail_at("kv_heads", "only llama models have grouped-query attention");
    s.kv_heads = positive(t, "kv_heads", kv);
    if (s.kv_heads > s.heads || s.heads % s.kv_heads != 0)
      t.fail_at("kv_heads", fmt::format("heads ({}) must be a multiple of kv_heads ({})", s.heads, s.kv_heads));
  }
  if (auto f = t.opt_number("partial_rotary_factor")) {
    if (s.arch != Arch::Phi) t.fail_at("partial_rotary_factor", "only phi models have rotary embeddings");
    if (*f <= 0.0 || *f > 1.0) t.fail_at("partial_rotary_factor", fmt::format("must be in (0, 1], got {}", *f));
    s.partial_rotary_factor = *f;
  }
  s.seed = seed_value(t, "seed", grid_seed);
  if (s.hidden % s.heads != 0)
    t.fail_at("heads", fmt::format("hidden ({}) must be a multiple of heads ({})", s.hidden, s.heads));
  t.finish();
  return s;
}

FineTuneSpec read_finetune(TomlTable t, uint64_t grid_seed) {
  FineTuneSpec f;
  f.lr = t.opt_number("lr").value_or(f.lr);
  if (!(f.lr > 0.0)) t.fail_at("lr", fmt::format("must be > 0, got {}", f.lr));
  if (auto b = t.opt_integer("batch_size")) f.batch_size = positive(t, "batch_size", b);
  if (auto e = t.opt_integer("epochs")) f.epochs = positive(t, "epochs", e);
  f.weight_decay = t.opt_number("weight_decay").value_or(0.0);
  if (f.weight_decay < 0.0) t.fail_at("weight_decay", fmt::format("must be >= 0, got {}", f.weight_decay));
  f.seed = seed_value(t, "seed", grid_seed);
  t.finish();
  return f;
}

ModelSpec read_model(TomlTable t, const fs::path& base, uint64_t grid_seed) {
  ModelSpec m;
  m.line = static_cast<int>(t.pos().line);
  m.name = t.string("name");
  check_name(t, "name", m.name);
  auto path = t.opt_string("path");
  auto init = t.opt_table("init");
  if (path && init) t.fail_at("init", "give either 'path' (an HF checkpoint folder or a .gguf file) or [init] (a random model), not both");
  if (!path && !init) t.fail("missing required key 'path' (an HF checkpoint folder or a .gguf file) or table [init] (a random model)");
  if (path) m.checkpoint = resolve(base, *path);
  if (init) m.init = read_init(*init, grid_seed);
  auto tokenizer = t.opt_string("tokenizer");
  if (!tokenizer && !path) t.fail("missing required key 'tokenizer' (a random model has no folder to take it from)");
  m.tokenizer = tokenizer ? resolve(base, *tokenizer) : *m.checkpoint;
  if (auto ft = t.opt_table("finetune")) m.finetune = read_finetune(*ft, grid_seed);
  t.finish();
  return m;
}

// ---- tasks ----------------------------------------------------------------------

SplitSpec read_split(TomlTable t, bool has_own_test, uint64_t grid_seed) {
  SplitSpec s;
  if (has_own_test && t.has("test_fraction"))
    t.fail_at("test_fraction", "this task's test set is SuperGLUE's val.jsonl; remove 'test_fraction'");
  s.test_fraction = has_own_test ? 0.0 : fraction(t, "test_fraction", s.test_fraction, false);
  s.validation_fraction = fraction(t, "validation_fraction", s.validation_fraction, true);
  s.seed = seed_value(t, "seed", grid_seed);
  s.max_train = positive(t, "max_train", t.opt_integer("max_train"));
  s.max_validation = positive(t, "max_validation", t.opt_integer("max_validation"));
  s.max_test = positive(t, "max_test", t.opt_integer("max_test"));
  t.finish();
  return s;
}

TaskSpec read_task(TomlTable t, const fs::path& base, uint64_t grid_seed) {
  TaskSpec task;
  task.line = static_cast<int>(t.pos().line);
  if (!t.has("kind")) t.fail("missing required key 'kind'");
  task.kind = t.string("kind");
  const TaskKind* kind = lookup_task_kind(task.kind);
  if (!kind) t.fail_at("kind", fmt::format("unknown value '{}'; expected one of: {}", task.kind, task_kind_names()));
  task.name = t.opt_string("name").value_or(task.kind);
  check_name(t, "name", task.name);
  const bool needs_data = kind->needs_data_dir;
  auto data = t.opt_string("data_dir");
  if (needs_data && !data)
    t.fail(fmt::format("missing required key 'data_dir' (the {} folder with train.jsonl and val.jsonl)", task.kind));
  if (!needs_data && data) t.fail_at("data_dir", fmt::format("{} is generated; it reads no data folder", task.kind));
  if (data) task.data_dir = resolve(base, *data);
  task.prompt_set = t.opt_string("prompt_set").value_or(task.prompt_set);
  if (!lookup_prompt_set(*kind, task.prompt_set))
    t.fail_at("prompt_set", fmt::format("unknown value '{}'; {} has: {}", task.prompt_set, task.kind,
                                        prompt_set_names(*kind)));
  task.metric = t.choice("metric", task.metric);
  if (task.metric == Metric::ChoiceLoglik)
    t.fail_at("metric", "choice-loglik is how prompt_set = \"lm-eval\" scores; metric is full-vocab or choices");
  task.bos = t.opt_boolean("bos");
  if (auto split = t.opt_table("split")) {
    task.split = read_split(*split, needs_data, grid_seed);
  } else {
    task.split.test_fraction = needs_data ? 0.0 : task.split.test_fraction;
    task.split.seed = grid_seed;
  }
  t.finish();
  return task;
}

// ---- eigenpruning ----------------------------------------------------------------

std::vector<double> read_p(TomlTable& t) {
  auto p = t.opt_numbers("p");
  if (!p) t.fail("missing required key 'p' (the fractions of components to freeze, e.g. [0.01, 0.05])");
  if (p->empty()) t.fail_at("p", "needs at least one value");
  for (size_t i = 0; i < p->size(); ++i)
    if (!((*p)[i] > 0.0 && (*p)[i] < 1.0))
      t.fail_at_element("p", i, fmt::format("p must be in (0, 1), got {}", (*p)[i]));
  std::vector<double> sorted = *p;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i] == sorted[i - 1]) t.fail_at("p", fmt::format("{} appears twice", sorted[i]));
  return sorted;
}

// recipe = "official" fixes what the paper's code did; a key that says otherwise is an error.
void apply_official_recipe(TomlTable& t, EigenpruneSpec& e) {
  const std::string why = "recipe = \"official\" is the paper's code";
  for (size_t i = 0; i < e.matrices.size(); ++i)
    if (!official_recipe_supports(e.matrices[i]))
      t.fail_at_element("matrices", i, fmt::format("{}, which folds the LayerNorm in front of a matrix into it: it "
                                                   "takes q, k, v and mlp_in, not '{}' (nothing normalises its input)",
                                                   why, name_of(e.matrices[i])));
  if (t.has("position_reduction") && e.position_reduction != PositionReduce::Max)
    t.fail_at("position_reduction", why + ": it takes the max over positions; remove this key or use \"max\"");
  if (t.has("bias") && e.bias != BiasMode::PaperSum)
    t.fail_at("bias", why + ": its bias is summed over positions; remove this key or use \"paper_sum\"");
  if (t.has("pairs") && e.pairs != 1) t.fail_at("pairs", why + ": one partner, torch.roll(x, 1, 0); remove this key");
  e.position_reduction = PositionReduce::Max;
  e.bias = BiasMode::PaperSum;
  e.pairs = 1;
}

EigenpruneSpec read_eigenprune(TomlTable t) {
  EigenpruneSpec e;
  e.matrices = t.choices("matrices", e.matrices);
  if (e.matrices.empty()) t.fail_at("matrices", "needs at least one matrix");
  for (size_t i = 1; i < e.matrices.size(); ++i)
    if (std::find(e.matrices.begin(), e.matrices.begin() + i, e.matrices[i]) != e.matrices.begin() + i)
      t.fail_at_element("matrices", i, fmt::format("'{}' appears twice", name_of(e.matrices[i])));
  e.recipe = t.choice("recipe", e.recipe);
  e.granularity = t.choice("granularity", e.granularity);
  e.position_reduction = t.choice("position_reduction", e.position_reduction);
  if (auto pairs = t.opt_integer("pairs")) e.pairs = positive(t, "pairs", pairs);
  e.bias = t.choice("bias", e.bias);
  e.p = read_p(t);
  if (auto b = t.opt_integer("batch_size")) e.batch_size = positive(t, "batch_size", b);
  // ref: official-implementation-notes — the paper code's default batch of 1 pairs
  // x with itself, every score is 0 and the "pruning" is an arbitrary order.
  if (e.batch_size < 2)
    t.fail_at("batch_size", "partners come from the same batch and an example never pairs with itself: "
                            "batch_size must be >= 2");
  if (e.pairs >= e.batch_size)
    t.fail_at("pairs", fmt::format("a batch of {} gives each example at most {} partner(s)", e.batch_size,
                                   e.batch_size - 1));
  if (auto b = t.opt_integer("eval_batch_size")) e.eval_batch_size = positive(t, "eval_batch_size", b);
  if (e.eval_batch_size == 0) e.eval_batch_size = e.batch_size;
  if (auto m = t.opt_integer("micro_batch_tokens")) e.micro_batch_tokens = positive(t, "micro_batch_tokens", m);
  e.dtype = t.choice("dtype", e.dtype);
  e.device = t.choice("device", e.device);
  e.svd = t.choice("svd", e.svd);
  if (e.recipe == Recipe::Official) apply_official_recipe(t, e);
  t.finish();
  return e;
}

// ---- comparisons -----------------------------------------------------------------

LaserSpec read_laser(TomlTable t) {
  LaserSpec l;
  l.matrices = t.choices("matrices", l.matrices);
  if (l.matrices.empty()) t.fail_at("matrices", "needs at least one matrix");
  for (size_t i = 1; i < l.matrices.size(); ++i)
    if (std::find(l.matrices.begin(), l.matrices.begin() + i, l.matrices[i]) != l.matrices.begin() + i)
      t.fail_at_element("matrices", i, fmt::format("'{}' appears twice", name_of(l.matrices[i])));
  if (auto groups = t.opt_integer_groups("layers")) {
    if (groups->empty()) t.fail_at("layers", "needs at least one layer (leave it out for every layer on its own)");
    for (size_t i = 0; i < groups->size(); ++i) {
      std::vector<int64_t> g = (*groups)[i];
      std::sort(g.begin(), g.end());
      for (size_t j = 0; j < g.size(); ++j) {
        if (g[j] < 0) t.fail_at_element("layers", i, fmt::format("a layer is >= 0, got {}", g[j]));
        if (j > 0 && g[j] == g[j - 1]) t.fail_at_element("layers", i, fmt::format("layer {} appears twice", g[j]));
      }
      if (std::find(l.layers.begin(), l.layers.end(), g) != l.layers.end())
        t.fail_at_element("layers", i, "this layer (set) appears twice");
      l.layers.push_back(std::move(g));
    }
  }
  auto rho = t.opt_numbers("rho");
  if (!rho) t.fail("missing required key 'rho' (the fractions of the rank kept, e.g. [0.5, 0.1, 0.01])");
  if (rho->empty()) t.fail_at("rho", "needs at least one value");
  for (size_t i = 0; i < rho->size(); ++i)
    if (!((*rho)[i] > 0.0 && (*rho)[i] < 1.0))
      t.fail_at_element("rho", i, fmt::format("rho (the fraction of the rank kept) must be in (0, 1), got {}", (*rho)[i]));
  l.rho = *rho;
  std::sort(l.rho.begin(), l.rho.end(), std::greater<>());
  for (size_t i = 1; i < l.rho.size(); ++i)
    if (l.rho[i] == l.rho[i - 1]) t.fail_at("rho", fmt::format("{} appears twice", l.rho[i]));
  t.finish();
  return l;
}

ControlSpec read_controls(TomlTable t) {
  ControlSpec c;
  if (auto seeds = t.opt_numbers("random_seeds")) {
    for (size_t i = 0; i < seeds->size(); ++i) {
      const double v = (*seeds)[i];
      if (!(v >= 0 && v == std::floor(v) && v < 9.007199254740992e15))
        t.fail_at_element("random_seeds", i, fmt::format("a seed is an integer >= 0, got {}", v));
      const auto seed = static_cast<uint64_t>(v);
      if (std::find(c.random_seeds.begin(), c.random_seeds.end(), seed) != c.random_seeds.end())
        t.fail_at_element("random_seeds", i, fmt::format("seed {} appears twice", seed));
      c.random_seeds.push_back(seed);
    }
  }
  c.highest = t.opt_boolean("highest").value_or(false);
  if (!c.any()) t.fail("asks for nothing: give 'random_seeds' (e.g. [1, 2, 3]) and/or 'highest = true'");
  t.finish();
  return c;
}

LayoutSpec read_layout(TomlTable t) {
  LayoutSpec l;
  // Bounded so that the int they become cannot wrap (4294967295 must not read as -1).
  if (auto r = t.opt_integer("ranks_per_cell")) {
    if (*r > kMaxRanks) t.fail_at("ranks_per_cell", fmt::format("must be <= {}, got {}", kMaxRanks, *r));
    l.ranks_per_cell = static_cast<int>(positive(t, "ranks_per_cell", r));
  }
  if (auto g = t.opt_integer("gpus_per_node")) {
    if (*g < 0 || *g > kMaxGpusPerNode)
      t.fail_at("gpus_per_node", fmt::format("must be in [0, {}] (0 = all the node shows), got {}", kMaxGpusPerNode, *g));
    l.gpus_per_node = static_cast<int>(*g);
  }
  t.finish();
  return l;
}

template <class Spec>
void check_unique_names(const std::vector<Spec>& specs, const std::string& file, std::string_view what) {
  std::set<std::string> seen;
  for (const auto& s : specs)
    EP_CHECK(seen.insert(s.name).second, "{}:{}: two {} are named '{}'{}", file, s.line, what, s.name,
             what == "tasks" ? " (give each task of the same kind its own 'name')" : "");
}

}  // namespace


Grid parse(std::string_view text, const fs::path& source) {
  const std::string file = source.empty() ? "<grid>" : source.string();
  const fs::path base = source.empty() ? fs::current_path() : fs::absolute(source).parent_path();
  toml::table root = parse_toml(text, file);
  TomlTable t(root, file, "");

  Grid g;
  g.source = source;
  g.text = std::string(text);
  g.seed = seed_value(t, "seed", g.seed);
  g.output = resolve(base, t.opt_string("output").value_or("results.h5"));
  for (auto& m : t.tables("models")) g.models.push_back(read_model(m, base, g.seed));
  for (auto& task : t.tables("tasks")) g.tasks.push_back(read_task(task, base, g.seed));
  auto eigen = t.opt_table("eigenprune");
  if (!eigen) t.fail("missing required table [eigenprune]");
  g.eigenprune = read_eigenprune(*eigen);
  if (auto laser = t.opt_table("laser")) g.laser = read_laser(*laser);
  if (auto controls = t.opt_table("controls")) g.controls = read_controls(*controls);
  if (auto layout = t.opt_table("layout")) g.layout = read_layout(*layout);
  t.finish();

  check_unique_names(g.models, file, "models");
  check_unique_names(g.tasks, file, "tasks");
  return g;
}

Grid load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  EP_CHECK(in, "cannot open grid file '{}'", file.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse(text, file);
}

bool prepends_bos(const TaskSpec& task, const ModelSpec& model, bool tokenizer_add_bos) {
  if (task.bos) return *task.bos;
  return model.tokenizer.extension() == ".gguf" ? tokenizer_add_bos : true;
}

std::string describe(const ModelSpec& m) {
  std::string s = fmt::format("model {}: ", m.name);
  if (m.checkpoint) s += fmt::format("checkpoint {}", m.checkpoint->string());
  if (m.init)
    s += fmt::format("init {} layers={} hidden={} heads={} intermediate={} max_positions={} vocab={} "
                     "rotary={} seed={}",
                     name_of(m.init->arch), m.init->layers, m.init->hidden, m.init->heads, m.init->intermediate,
                     m.init->max_positions, m.init->vocab, m.init->partial_rotary_factor, m.init->seed);
  s += fmt::format("; tokenizer {}", m.tokenizer.string());
  if (m.finetune)
    s += fmt::format("; finetune lr={} batch_size={} epochs={} weight_decay={} seed={}", m.finetune->lr,
                     m.finetune->batch_size, m.finetune->epochs, m.finetune->weight_decay, m.finetune->seed);
  return s;
}

std::string describe(const TaskSpec& t) {
  return fmt::format("task {}: kind={} data_dir={} prompt_set={} metric={} bos={} split test={} validation={} "
                     "seed={}",
                     t.name, t.kind, t.data_dir ? t.data_dir->string() : "-", t.prompt_set, name_of(t.metric),
                     t.bos.value_or(true),  // unset reads as before; GGUF models' own rule is the model's
                     t.split.test_fraction, t.split.validation_fraction, t.split.seed) +
         // Only when set, so that grids without them keep their cells' fingerprints.
         (t.split.max_train || t.split.max_validation || t.split.max_test
              ? fmt::format(" max_train={} max_validation={} max_test={}", t.split.max_train, t.split.max_validation,
                            t.split.max_test)
              : std::string());
}

std::string describe(const EigenpruneSpec& e) {
  // eval_batch_size and micro_batch_tokens are left out: they change how much runs at
  // once, not the result (micro-batches: up to float32 rounding, tests/core/prune_model_test.cpp).
  return fmt::format("eigenprune matrices={} granularity={} position_reduction={} pairs={} bias={} p={} "
                     "batch_size={} dtype={} device={} svd={}",
                     join_names(e.matrices), name_of(e.granularity), name_of(e.position_reduction), e.pairs,
                     name_of(e.bias), fmt::join(e.p, ","), e.batch_size, name_of(e.dtype), name_of(e.device),
                     name_of(e.svd)) +
         // Only when official, so that grids without it keep their cells' fingerprints.
         (e.recipe == Recipe::Official ? " recipe=official" : "");
}

std::vector<std::string> layer_set_names(const LaserSpec& laser) {
  std::vector<std::string> names;
  for (const auto& set : laser.layers) names.push_back(fmt::format("{}", fmt::join(set, "+")));
  return names;
}

std::string describe_comparisons(const Grid& g) {
  std::string s;
  if (g.laser) {
    const std::vector<std::string> sets = layer_set_names(*g.laser);
    s += fmt::format("laser matrices={} layers={} rho={}", join_names(g.laser->matrices),
                     sets.empty() ? std::string("each") : fmt::format("{}", fmt::join(sets, ",")),
                     fmt::join(g.laser->rho, ","));
  }
  if (g.controls.any())
    s += fmt::format("{}controls random_seeds={} highest={}", s.empty() ? "" : "\n",
                     fmt::join(g.controls.random_seeds, ","), g.controls.highest);
  return s;
}

}  // namespace ep::grid
