// Grid files: every field of a good file lands where it should; every kind of
// mistake is an ep::Error that says where (file:line:column) or which table.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/util/error.h"
#include "runner/grid.h"

namespace fs = std::filesystem;
using ep::grid::Grid;

namespace {

const fs::path kGrids = fs::path(EP_TEST_DATA_DIR) / "grids";

// The message of the ep::Error that loading `name` throws ("" if none is thrown).
std::string load_error(const std::string& name) {
  try {
    ep::grid::load(kGrids / name);
  } catch (const ep::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Grid, GoodFileFillsEveryField) {
  const Grid g = ep::grid::load(kGrids / "good.toml");
  EXPECT_EQ(g.seed, 7u);
  EXPECT_EQ(g.output, (kGrids / "out/results.h5").lexically_normal());
  EXPECT_EQ(g.layout.ranks_per_cell, 2);
  EXPECT_EQ(g.layout.gpus_per_node, 4);
  EXPECT_NE(g.text.find("A grid that sets every key"), std::string::npos);

  ASSERT_EQ(g.models.size(), 2u);
  const auto& tiny = g.models[0];
  EXPECT_EQ(tiny.name, "tiny");
  EXPECT_FALSE(tiny.checkpoint);
  ASSERT_TRUE(tiny.init);
  EXPECT_EQ(ep::name_of(tiny.init->arch), "gpt2");
  EXPECT_EQ(tiny.init->layers, 2);
  EXPECT_EQ(tiny.init->hidden, 64);
  EXPECT_EQ(tiny.init->heads, 4);
  EXPECT_EQ(tiny.init->intermediate, 128);
  EXPECT_EQ(tiny.init->max_positions, 32);
  EXPECT_EQ(tiny.init->vocab, 0);  // from the tokenizer
  EXPECT_EQ(tiny.init->seed, 11u);
  EXPECT_EQ(tiny.tokenizer, (kGrids / "../../../examples/gpt2-tokenizer").lexically_normal());
  ASSERT_TRUE(tiny.finetune);
  EXPECT_DOUBLE_EQ(tiny.finetune->lr, 1e-3);
  EXPECT_EQ(tiny.finetune->batch_size, 8);
  EXPECT_EQ(tiny.finetune->epochs, 2);
  EXPECT_DOUBLE_EQ(tiny.finetune->weight_decay, 0.01);
  EXPECT_EQ(tiny.finetune->seed, 13u);

  const auto& ckpt = g.models[1];
  ASSERT_TRUE(ckpt.checkpoint);
  EXPECT_EQ(*ckpt.checkpoint, (kGrids / "../fixtures/tiny-phi").lexically_normal());
  EXPECT_EQ(ckpt.tokenizer, *ckpt.checkpoint);  // defaults to the checkpoint folder
  EXPECT_FALSE(ckpt.finetune);

  ASSERT_EQ(g.tasks.size(), 2u);
  const auto& sum = g.tasks[0];
  EXPECT_EQ(sum.name, "int-sum");  // defaults to the kind
  EXPECT_EQ(sum.kind, "int-sum");
  EXPECT_FALSE(sum.data_dir);
  EXPECT_EQ(sum.prompt_set, "paper");
  EXPECT_EQ(ep::name_of(sum.metric), "full-vocab");
  EXPECT_FALSE(sum.bos.has_value());  // unset: the tokenizer's rule (executor)
  EXPECT_EQ(sum.split.max_train, 0);  // all
  EXPECT_DOUBLE_EQ(sum.split.test_fraction, 0.25);
  EXPECT_DOUBLE_EQ(sum.split.validation_fraction, 0.1);
  EXPECT_EQ(sum.split.seed, 5u);
  const auto& cb = g.tasks[1];
  EXPECT_EQ(cb.name, "cb-lm");
  EXPECT_EQ(cb.kind, "cb");
  EXPECT_EQ(*cb.data_dir, fs::path("/data/superglue/CB"));
  EXPECT_EQ(cb.prompt_set, "lm-eval");
  EXPECT_EQ(ep::name_of(cb.metric), "choices");
  EXPECT_EQ(cb.bos, std::optional<bool>(false));
  EXPECT_DOUBLE_EQ(cb.split.test_fraction, 0.0);  // SuperGLUE brings its own test set
  EXPECT_EQ(cb.split.seed, 7u);          // the grid seed

  const auto& e = g.eigenprune;
  EXPECT_EQ(ep::join_names(e.matrices), "k,mlp_in");
  EXPECT_EQ(ep::name_of(e.granularity), "matrix");
  EXPECT_EQ(ep::name_of(e.position_reduction), "max");
  EXPECT_EQ(e.pairs, 3);
  EXPECT_EQ(ep::name_of(e.bias), "paper_sum");
  EXPECT_EQ(e.eval_batch_size, 64);
  EXPECT_EQ(e.p, (std::vector<double>{0.01, 0.1, 0.3}));  // sorted
  EXPECT_EQ(e.batch_size, 16);
  EXPECT_EQ(ep::name_of(e.dtype), "bf16");
  EXPECT_EQ(ep::name_of(e.device), "cuda");
  EXPECT_TRUE(e.uses_cuda());
  EXPECT_EQ(ep::name_of(e.svd), "gram");
}

TEST(Grid, MinimalFileGetsDefaults) {
  const Grid g = ep::grid::load(kGrids / "minimal.toml");
  EXPECT_EQ(g.seed, 42u);
  EXPECT_EQ(g.output, kGrids / "results.h5");
  EXPECT_EQ(g.layout.ranks_per_cell, 1);
  ASSERT_EQ(g.tasks.size(), 1u);
  EXPECT_DOUBLE_EQ(g.tasks[0].split.test_fraction, 0.2);
  EXPECT_EQ(g.tasks[0].split.seed, 42u);
  EXPECT_EQ(ep::join_names(g.eigenprune.matrices), "k");
  EXPECT_EQ(ep::name_of(g.eigenprune.granularity), "head");
  EXPECT_EQ(ep::name_of(g.eigenprune.position_reduction), "sum");
  EXPECT_EQ(g.eigenprune.pairs, 1);
  EXPECT_EQ(ep::name_of(g.eigenprune.bias), "position");
  EXPECT_EQ(g.eigenprune.batch_size, 8);
  EXPECT_EQ(g.eigenprune.eval_batch_size, 8);
  EXPECT_EQ(ep::name_of(g.eigenprune.dtype), "fp32");
  EXPECT_EQ(ep::name_of(g.eigenprune.device), "cpu");
  EXPECT_EQ(ep::name_of(g.eigenprune.svd), "auto");
}

struct BadGrid {
  const char* file;
  const char* where;  // "file:line:col" suffix, or the table's name
  const char* what;   // a piece of the message
};

class GridErrors : public ::testing::TestWithParam<BadGrid> {};

TEST_P(GridErrors, NameWhereAndWhat) {
  const BadGrid& bad = GetParam();
  const std::string msg = load_error(bad.file);
  ASSERT_FALSE(msg.empty()) << bad.file << " loaded without an error";
  EXPECT_NE(msg.find(bad.where), std::string::npos) << "message: " << msg;
  EXPECT_NE(msg.find(bad.what), std::string::npos) << "message: " << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, GridErrors,
    ::testing::Values(
        BadGrid{"bad_unknown_key.toml", "bad_unknown_key.toml:7:1", "unknown key 'tasks[1].promts_set'"},
        BadGrid{"bad_wrong_type.toml", "bad_wrong_type.toml:10:14", "expected an integer, got a string"},
        BadGrid{"bad_missing_required.toml", "[models[1].init]", "missing required key 'hidden'"},
        BadGrid{"bad_p_range.toml", "bad_p_range.toml:9:12", "p must be in (0, 1), got 1.5"},
        BadGrid{"bad_unknown_matrix.toml", "bad_unknown_matrix.toml:9:18", "unknown value 'w_k'"},
        BadGrid{"bad_task_kind.toml", "bad_task_kind.toml:6:8", "unknown value 'boolq'"},
        BadGrid{"bad_syntax.toml", "bad_syntax.toml:2:", "TOML syntax error"},
        BadGrid{"bad_duplicate_task.toml", "bad_duplicate_task.toml:8", "two tasks are named 'int-mult'"},
        BadGrid{"bad_missing_data.toml", "[tasks[1]]", "missing required key 'data_dir'"}),
    [](const auto& info) {
      std::string name = fs::path(info.param.file).stem().string();
      for (char& c : name)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(Grid, MissingFileIsAnError) {
  EXPECT_THROW(ep::grid::load(kGrids / "no_such_grid.toml"), ep::Error);
}

TEST(Grid, PartnersNeedTwoExamplesPerBatch) {
  const char* text = R"(
[[models]]
name = "m"
path = "ckpt"
[[tasks]]
kind = "int-sum"
[eigenprune]
p = [0.1]
batch_size = 1
)";
  try {
    ep::grid::parse(text, "inline.toml");
    FAIL() << "batch_size = 1 with roll pairs was accepted";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("inline.toml:9:14"), std::string::npos) << e.what();
  }
}

TEST(Grid, MorePartnersThanABatchHoldsIsAnError) {
  const char* text = R"(
[[models]]
name = "m"
path = "ckpt"
[[tasks]]
kind = "int-sum"
[eigenprune]
p = [0.1]
batch_size = 4
pairs = 4
)";
  EXPECT_THROW(ep::grid::parse(text, "inline.toml"), ep::Error);
}

TEST(Grid, FineTuneDefaultsAreThePapers) {
  const char* text = R"(
[[models]]
name = "m"
path = "ckpt"
[models.finetune]
[[tasks]]
kind = "int-sum"
[eigenprune]
p = [0.1]
)";
  const auto g = ep::grid::parse(text, "inline.toml");
  ASSERT_TRUE(g.models[0].finetune);
  EXPECT_DOUBLE_EQ(g.models[0].finetune->lr, 0.01);
  EXPECT_EQ(g.models[0].finetune->batch_size, 2);
  EXPECT_EQ(g.models[0].finetune->epochs, 1);
}

TEST(Grid, PathAndInitTogetherIsAnError) {
  const char* text = R"(
[[models]]
name = "m"
path = "ckpt"
tokenizer = "tok"
[models.init]
arch = "gpt2"
layers = 1
hidden = 8
heads = 2
max_positions = 8
[[tasks]]
kind = "int-sum"
[eigenprune]
p = [0.1]
)";
  EXPECT_THROW(ep::grid::parse(text, "inline.toml"), ep::Error);
}

TEST(Grid, DescribeChangesWithSettingsThatChangeResults) {
  Grid a = ep::grid::load(kGrids / "minimal.toml");
  Grid b = a;
  b.eigenprune.svd = ep::SvdRoute::Lapack;
  EXPECT_NE(ep::grid::describe(a.eigenprune), ep::grid::describe(b.eigenprune));
  b = a;
  b.tasks[0].split.seed = 1;
  EXPECT_NE(ep::grid::describe(a.tasks[0]), ep::grid::describe(b.tasks[0]));
  b = a;
  b.tasks[0].split.max_test = 100;
  EXPECT_NE(ep::grid::describe(a.tasks[0]), ep::grid::describe(b.tasks[0]));
  // Grids without the newer keys keep the descriptions (and cell fingerprints) they had.
  EXPECT_EQ(ep::grid::describe(a.tasks[0]).find("max_"), std::string::npos);
  EXPECT_NE(ep::grid::describe(a.tasks[0]).find("bos=true"), std::string::npos);
}

TEST(Grid, ComparisonsAreReadAndChangeTheFingerprintOnlyWhenGiven) {
  const std::string head = R"(
[[models]]
name = "m"
path = "/nonexistent/m"
[[tasks]]
kind = "int-sum"
[eigenprune]
p = [0.1]
)";
  const Grid plain = ep::grid::parse(head, "inline.toml");
  EXPECT_FALSE(plain.laser.has_value());
  EXPECT_FALSE(plain.controls.any());
  EXPECT_EQ(ep::grid::describe_comparisons(plain), "");  // old grids keep their fingerprints
  const Grid g = ep::grid::parse(head + R"(
[controls]
random_seeds = [3, 1]
highest = true
[laser]
layers = [4, [7, 6]]
rho = [0.1, 0.5]
)", "inline.toml");
  EXPECT_EQ(g.controls.random_seeds, (std::vector<uint64_t>{3, 1}));
  EXPECT_TRUE(g.controls.highest);
  ASSERT_TRUE(g.laser.has_value());
  EXPECT_EQ(g.laser->matrices, (std::vector<ep::MatrixKind>{ep::MatrixKind::MlpIn}));  // LASER's usual target
  EXPECT_EQ(g.laser->layers, (std::vector<std::vector<int64_t>>{{4}, {6, 7}}));
  EXPECT_EQ(g.laser->rho, (std::vector<double>{0.5, 0.1}));  // the most rank kept first
  EXPECT_EQ(ep::grid::describe_comparisons(g),
            "laser matrices=mlp_in layers=4,6+7 rho=0.5,0.1\ncontrols random_seeds=3,1 highest=true");
  EXPECT_THROW(ep::grid::parse(head + "[laser]\nlayers = [1, [1]]\nrho = [0.5]\n", "inline.toml"), ep::Error);
  EXPECT_THROW(ep::grid::parse(head + "[laser]\nlayers = [-1]\nrho = [0.5]\n", "inline.toml"), ep::Error);
  EXPECT_THROW(ep::grid::parse(head + "[laser]\nrho = [0.5, 0.5]\n", "inline.toml"), ep::Error);
  EXPECT_THROW(ep::grid::parse(head + "[controls]\nrandom_seeds = [1.5]\n", "inline.toml"), ep::Error);
  EXPECT_THROW(ep::grid::parse(head + "[controls]\nrandom_seeds = [2, 2]\n", "inline.toml"), ep::Error);
}

TEST(Grid, SplitSubsamplesAreReadAndMustBePositive) {
  const std::string head = R"(
[[models]]
name = "m"
path = "model.gguf"
[[tasks]]
kind = "int-sum"
[tasks.split]
)";
  const std::string tail = "\n[eigenprune]\np = [0.1]\n";
  const auto g = ep::grid::parse(head + "max_train = 256\nmax_validation = 64\nmax_test = 200" + tail, "inline.toml");
  EXPECT_EQ(g.tasks[0].split.max_train, 256);
  EXPECT_EQ(g.tasks[0].split.max_validation, 64);
  EXPECT_EQ(g.tasks[0].split.max_test, 200);
  EXPECT_EQ(g.models[0].tokenizer, g.models[0].checkpoint);  // a GGUF file brings its tokenizer
  try {
    ep::grid::parse(head + "max_test = 0" + tail, "inline.toml");
    FAIL() << "expected an error";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_test: must be > 0, got 0"), std::string::npos) << e.what();
  }
}
