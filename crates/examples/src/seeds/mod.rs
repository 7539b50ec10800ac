//! The computations of the five seed documents, shared by the walkthrough examples and their tests.
pub mod seed000;
pub mod seed001;
pub mod seed002;
pub mod seed003;
pub mod seed004;
