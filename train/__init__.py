"""Training and calibration of the offline reader (`make train`): data sets, features, fit."""
