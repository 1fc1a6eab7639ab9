// How a grid asks for a model to be held: the compute dtype and the device kind,
// with their names. Torch-free; causal_lm.h maps them to torch types.
#pragma once

#include "core/util/name_table.h"

namespace ep {

enum class ComputeDtype { F32, BF16, F16 };
inline constexpr Named<ComputeDtype> kComputeDtypeNames[] = {
    {ComputeDtype::F32, "fp32"}, {ComputeDtype::BF16, "bf16"}, {ComputeDtype::F16, "fp16"}};
constexpr const auto& names(ComputeDtype) { return kComputeDtypeNames; }

enum class DeviceKind { Cpu, Cuda };
inline constexpr Named<DeviceKind> kDeviceKindNames[] = {{DeviceKind::Cpu, "cpu"}, {DeviceKind::Cuda, "cuda"}};
constexpr const auto& names(DeviceKind) { return kDeviceKindNames; }

}  // namespace ep
