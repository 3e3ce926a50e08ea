"""Stage 5: a checkpoint and the latest frames -> a forecast on the input's own grid."""
