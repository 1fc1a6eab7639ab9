// The grid's `recipe` key: "official" fixes what the paper's code did (max over
// positions, the bias summed over positions, one partner), refuses what it cannot
// reproduce (o, mlp_out; a key that says otherwise) with the key's line, and enters
// the cell fingerprint only when set, so existing results keep theirs.
#include <gtest/gtest.h>

#include <string>

#include "core/prune/freeze.h"
#include "core/prune/score.h"
#include "core/util/error.h"
#include "runner/grid.h"
#include "runner/prune_options.h"

namespace {

std::string grid_text(const std::string& eigenprune) {
  return "[[models]]\nname = \"m\"\npath = \"/nowhere\"\n[[tasks]]\nkind = \"int-sum\"\n[eigenprune]\np = [0.1]\n" +
         eigenprune;
}

std::string parse_error(const std::string& eigenprune) {
  try {
    ep::grid::parse(grid_text(eigenprune), "g.toml");
  } catch (const ep::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(GridRecipe, DefaultIsEprunnerAndLeavesTheFingerprintAlone) {
  const auto g = ep::grid::parse(grid_text(""), "g.toml");
  EXPECT_EQ(g.eigenprune.recipe, ep::Recipe::Eprunner);
  EXPECT_EQ(ep::grid::describe(g.eigenprune).find("recipe"), std::string::npos);
  EXPECT_EQ(ep::runner::score_options(g.eigenprune, 4).recipe, ep::ScoreOptions{}.recipe);
  EXPECT_FALSE(ep::runner::decompose_options(g.eigenprune).fold_input_norm);
}

TEST(GridRecipe, OfficialImpliesThePaperCodesSettings) {
  const auto g = ep::grid::parse(grid_text("recipe = \"official\"\nmatrices = [\"q\", \"k\", \"v\", \"mlp_in\"]\n"), "g.toml");
  const auto& e = g.eigenprune;
  EXPECT_EQ(e.recipe, ep::Recipe::Official);
  EXPECT_EQ(e.position_reduction, ep::PositionReduce::Max);
  EXPECT_EQ(e.bias, ep::BiasMode::PaperSum);
  EXPECT_EQ(e.pairs, 1);
  EXPECT_NE(ep::grid::describe(e).find("recipe=official"), std::string::npos);
  EXPECT_TRUE(ep::runner::decompose_options(e).fold_input_norm);
  EXPECT_EQ(ep::runner::score_options(e, 4).recipe, ep::Recipe::Official);
  EXPECT_EQ(ep::runner::score_options(e, 4).reduce, ep::PositionReduce::Max);
  EXPECT_EQ(ep::runner::freeze_options(e).recipe, ep::Recipe::Official);
  // Saying the same thing explicitly is fine.
  EXPECT_EQ(parse_error("recipe = \"official\"\nposition_reduction = \"max\"\nbias = \"paper_sum\"\npairs = 1\n"), "");
}

TEST(GridRecipe, OfficialRefusesWhatThePaperCodeCannotDo) {
  std::string e = parse_error("recipe = \"official\"\nmatrices = [\"k\", \"o\"]\n");
  EXPECT_NE(e.find("g.toml:9"), std::string::npos) << e;
  EXPECT_NE(e.find("'o'"), std::string::npos) << e;
  EXPECT_NE(e.find("q, k, v and mlp_in"), std::string::npos) << e;
  e = parse_error("recipe = \"official\"\nmatrices = [\"mlp_out\"]\n");
  EXPECT_NE(e.find("'mlp_out'"), std::string::npos) << e;
  e = parse_error("recipe = \"official\"\nposition_reduction = \"sum\"\n");
  EXPECT_NE(e.find("g.toml:9"), std::string::npos) << e;
  EXPECT_NE(e.find("position_reduction"), std::string::npos) << e;
  e = parse_error("recipe = \"official\"\nbias = \"position\"\n");
  EXPECT_NE(e.find("summed over positions"), std::string::npos) << e;
  e = parse_error("recipe = \"official\"\npairs = 2\nbatch_size = 8\n");
  EXPECT_NE(e.find("torch.roll"), std::string::npos) << e;
  e = parse_error("recipe = \"paper\"\n");
  EXPECT_NE(e.find("eprunner, official"), std::string::npos) << e;
}
