// The named matrices every architecture exposes to eigenpruning, and their names.
// Torch-free: the grid file names them.
#pragma once

#include "core/util/name_table.h"

namespace ep {

enum class MatrixKind { Q, K, V, O, MlpIn, MlpOut };
inline constexpr Named<MatrixKind> kMatrixKindNames[] = {
    {MatrixKind::Q, "q"}, {MatrixKind::K, "k"},           {MatrixKind::V, "v"},
    {MatrixKind::O, "o"}, {MatrixKind::MlpIn, "mlp_in"}, {MatrixKind::MlpOut, "mlp_out"}};
constexpr const auto& names(MatrixKind) { return kMatrixKindNames; }

}  // namespace ep
