"""``qiflow train`` on every rank, as ``mpiexec -n N qiflow train ARGS`` runs it.

usage: cli_train.py [--stop-after EPOCH | --fail-rank RANK EPOCH] ARGS...

``--stop-after E`` makes every rank stop like a Ctrl-C right after the checkpoint
of epoch E was saved (as tests/cli/test_cli_resume.py does in one process);
``--fail-rank R E`` makes rank R raise in its first training step of epoch E.
"""
import sys

from qiflow.cli import main
from qiflow.train import Trainer

argv = sys.argv[1:]
if argv[:1] == ["--stop-after"]:
    stop, argv = int(argv[1]), argv[2:]
    real = Trainer.save_checkpoint

    def save_then_stop(self, path, loader=None):
        real(self, path, loader)
        if self.epoch == stop:
            raise KeyboardInterrupt
    Trainer.save_checkpoint = save_then_stop
elif argv[:1] == ["--fail-rank"]:
    bad, epoch, argv = int(argv[1]), int(argv[2]), argv[3:]
    real_step = Trainer.train_step

    def failing_step(self, x, y):
        if self.rank == bad and self.epoch == epoch:
            raise RuntimeError(f"injected failure in epoch {epoch}")
        return real_step(self, x, y)
    Trainer.train_step = failing_step
sys.exit(main(["train", *argv]))
