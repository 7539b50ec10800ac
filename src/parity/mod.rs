//! Runs the PyTorch parity cases (`tests/data/torch_cases.json`) through the public API.
//! (Stub: filled in by the losses work.)

mod train;
