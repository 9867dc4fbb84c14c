"""The analysts' train loop: training data from history or a simulated city, fit, backtest, register."""

from vitals.training.data import TrainingSet, from_arrays, from_frame, from_history, from_simulation
from vitals.training.train import FamilyTrainer, ForecasterTrainer, TrainResult, default_trainers, train

__all__ = [
    "FamilyTrainer", "ForecasterTrainer", "TrainResult", "TrainingSet", "default_trainers", "from_arrays",
    "from_frame", "from_history", "from_simulation", "train",
]
