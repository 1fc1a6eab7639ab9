// Exit statuses of eprunner with a meaning beyond "failed", shared by the commands
// (runner/) and the Slurm batch scripts (slurm/templates/, which get the value
// substituted): one definition, nothing to keep equal. Torch-free, header-only.
#pragma once

namespace ep {

// `eprunner run` stopped by SIGUSR1/SIGTERM before the grid was finished: every
// cell it finished is saved, rerun to continue. 75 is sysexits.h's EX_TEMPFAIL
// ("try again later"); distinct from 1 (a cell failed), 2 (internal error) and
// the queue server's MPI_Abort code (3). The Slurm batch scripts requeue the job
// on it (slurm/sbatch.h). Also given when the request came during start-up: the
// handlers are installed before any library constructor runs (runner/cmd_run.cpp).
// Under mpirun only USR1 sent to mpirun reaches the ranks as a stop request; TERM,
// INT and HUP make mpirun abort and exit 1 itself (docs/slurm.md, "Signals").
inline constexpr int kExitInterrupted = 75;

}  // namespace ep
