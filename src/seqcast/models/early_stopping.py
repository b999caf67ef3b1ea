"""Epoch bookkeeping shared by the PyTorch and NumPy training loops.

Records each epoch's losses, stops on a non-finite loss with a clear message, says when
the validation loss has not improved for `patience` epochs, and shows a progress bar
on a terminal (and nothing in a log); the summary of a run is logged.

With `patience` None every one of `max_epochs` epochs runs and the last one counts as the
best, whose weights are kept: a fixed epoch count, with or without validation windows
(without them no validation loss is recorded).
"""

import logging
import math
import sys
from collections.abc import Iterator

import numpy as np
from tqdm import tqdm

from seqcast.errors import SeqcastError
from seqcast.models.base import History

logger = logging.getLogger(__name__)


class EarlyStopping:
    """Iterate over it for the epochs to run; call `end_epoch` at the end of each."""

    def __init__(self, label: str, max_epochs: int, patience: int | None) -> None:
        self.label, self.max_epochs, self.patience = label, max_epochs, patience
        self.history = History()
        self.best_val = math.inf
        self.stale_epochs = 0

    def __iter__(self) -> Iterator[int]:
        bar = tqdm(
            range(1, self.max_epochs + 1),
            desc=f"{self.label:>6}",
            unit="epoch",
            disable=not sys.stderr.isatty(),
            leave=True,
        )
        self._bar = bar
        for epoch in bar:
            yield epoch
            if self.patience is not None and self.stale_epochs >= self.patience:
                break
        bar.close()

    def end_epoch(self, epoch: int, train_loss: float, val_loss: float | None) -> bool:
        """Record the epoch; True when it is the best so far (the caller keeps its weights).
        val_loss None: there are no validation windows."""
        if not (np.isfinite(train_loss) and (val_loss is None or np.isfinite(val_loss))):
            raise SeqcastError(
                f"{self.label}: training diverged at epoch {epoch} (loss is {train_loss}); "
                "lower train.learning_rate or train.grad_clip"
            )
        history = self.history
        history.train_loss.append(train_loss)
        if val_loss is not None:
            history.val_loss.append(val_loss)
        if self.patience is None:  # a fixed epoch count: the last epoch is the one kept
            history.best_epoch = epoch
            self.best_val = math.nan if val_loss is None else val_loss
            self._bar.set_postfix(train=f"{train_loss:.2e}")
            return True
        improved = val_loss < self.best_val
        if improved:
            self.best_val, self.stale_epochs = val_loss, 0
            history.best_epoch = epoch
        else:
            self.stale_epochs += 1
        self._bar.set_postfix(
            train=f"{train_loss:.2e}", val=f"{val_loss:.2e}", best=history.best_epoch
        )
        return improved

    def finish(self) -> History:
        if self.patience is None:
            logger.info("%s: %d epochs (a fixed count)", self.label, len(self.history.train_loss))
            return self.history
        logger.info(
            "%s: %d epochs, best val loss %.3e at epoch %d",
            self.label,
            len(self.history.train_loss),
            self.best_val,
            self.history.best_epoch,
        )
        return self.history
