#include <gtest/gtest.h>

#include <string>

#include "core/util/error.h"
#include "experiments/prompt_template.h"

namespace ep {
namespace {

TEST(PromptTemplate, FillsFieldsAndKeepsTextVerbatim) {
  Fields f = {{"i", "12"}, {"j", "7"}};
  EXPECT_EQ(render_template("{i} + {j} =", f), "12 + 7 =");
  EXPECT_EQ(render_template("a\n\n{i}{i}\t", f), "a\n\n1212\t");
  EXPECT_EQ(render_template("no fields", f), "no fields");
}

TEST(PromptTemplate, FieldValuesAreNotReparsed) {
  EXPECT_EQ(render_template("[{x}]", {{"x", "{y} }{"}}), "[{y} }{]");
}

TEST(PromptTemplate, DoubledBracesAreLiteral) {
  EXPECT_EQ(render_template("{{{i}}}", {{"i", "5"}}), "{5}");
}

TEST(PromptTemplate, UnknownFieldNamesTemplateFieldAndKnownFields) {
  try {
    render_template("Premise: {premise} {hypotesis}", {{"premise", "p"}, {"hypothesis", "h"}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("\"Premise: {premise} {hypotesis}\" uses field 'hypotesis'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fields: hypothesis, premise"), std::string::npos) << msg;
  }
}

TEST(PromptTemplate, UnbalancedBracesAreErrors) {
  EXPECT_THROW(render_template("{i", {{"i", "1"}}), Error);
  EXPECT_THROW(render_template("i}", {{"i", "1"}}), Error);
  EXPECT_THROW(render_template("{}", {}), Error);
}

TEST(PromptTemplate, ListsFieldsInOrder) {
  EXPECT_EQ(template_fields(" {choice1_lc} and {{x}} {i}{i}"),
            (std::vector<std::string>{"choice1_lc", "i", "i"}));
  EXPECT_TRUE(template_fields(" entails").empty());
}

}  // namespace
}  // namespace ep
