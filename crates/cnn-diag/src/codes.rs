//! The registry of diagnostic codes: each code once, with its severity, title and the long
//! explanation that `cnnc explain` prints (kept as Markdown files in `explain/`).
//!
//! Codes are stable: tests and editors match on them, never on message wording. A code is never
//! reused for a different problem.

use crate::Severity;

/// A stable diagnostic code such as `E0101` or `W0001`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(&'static str);

/// Everything known about one code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    pub code: Code,
    pub title: &'static str,
    pub explanation: &'static str,
}

macro_rules! codes {
    ($($name:ident = $text:literal, $title:literal;)*) => {
        impl Code {
            $(pub const $name: Code = Code($text);)*
        }
        /// Every code, in order.
        pub const ALL_CODES: &[CodeInfo] = &[
            $(CodeInfo {
                code: Code::$name,
                title: $title,
                explanation: include_str!(concat!("../explain/", $text, ".md")),
            },)*
        ];
    };
}

codes! {
    SYNTAX = "E0001", "syntax error";
    UNKNOWN_OP = "E0002", "unknown layer or block";
    UNKNOWN_ARG = "E0003", "unknown argument";
    MISSING_ARG = "E0004", "missing required argument";
    BAD_VALUE = "E0005", "invalid argument value";
    DUPLICATE_ARG = "E0006", "argument given twice or too many arguments";
    UNKNOWN_TENSOR = "E0007", "unknown tensor name";
    DUPLICATE_NAME = "E0008", "name defined twice";
    RECURSIVE_BLOCK = "E0009", "block instantiates itself";
    BAD_INPUT = "E0010", "invalid input declaration";
    NO_INPUT = "E0011", "model without input or statements";
    NAME_NOT_ALLOWED = "E0012", "name not allowed here";
    WINDOW_TOO_LARGE = "E0101", "window larger than the padded input";
    WRONG_RANK = "E0102", "layer applied to a tensor of the wrong rank";
    GROUPS = "E0103", "groups do not divide the channel counts";
    CHANNELS = "E0104", "declared channel count does not match the input";
    ADD_SHAPES = "E0105", "added tensors differ in shape";
    CONCAT_SHAPES = "E0106", "concatenated tensors differ in batch, height or width";
    DENSE_WIDTH = "E0107", "dense layer input width does not match";
    NOT_CONCRETE = "E0108", "size must be concrete but is symbolic";
    TOO_LARGE = "E0109", "tensor or size too large";
    POOL_PADDING = "E0110", "pooling padding larger than half the window";
    SAME_STRIDED = "E0111", "padding=same with a stride above 1";
    REFLECT_PAD = "E0112", "reflect padding as large as the input";
    NO_VALID_SIZE = "E0113", "no input size satisfies the network";
    MISSING_WEIGHT = "E0201", "weight tensor missing from the weights file";
    WEIGHT_SHAPE = "E0202", "weight tensor has the wrong shape";
    WEIGHT_DTYPE = "E0203", "weight tensor has an unsupported dtype";
    UNTILED = "W0001", "window does not tile the input";
    KERNEL_OVER_INPUT = "W0002", "kernel larger than the unpadded input";
    UNUSED = "W0003", "named tensor never used";
    ALIASING = "W0004", "strided downsampling without anti-aliasing";
    SOFTMAX_PLACE = "W0005", "softmax not at the output";
    DROPOUT_PLACE = "W0006", "dropout in an odd place";
    UNKNOWN_ALLOW = "W0007", "unknown code in @allow";
    UNUSED_WEIGHT = "W0008", "weights file holds a tensor the model does not use";
}

impl Code {
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Errors are `E…`, warnings `W…`.
    pub fn severity(self) -> Severity {
        if self.0.starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }

    /// Look a code up by its text (`"E0101"`, case-insensitive).
    pub fn parse(text: &str) -> Option<Code> {
        ALL_CODES.iter().map(|info| info.code).find(|code| code.0.eq_ignore_ascii_case(text.trim()))
    }

    pub fn info(self) -> &'static CodeInfo {
        ALL_CODES.iter().find(|info| info.code == self).expect("every Code constant is in ALL_CODES")
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_explained() {
        for pair in ALL_CODES.windows(2) {
            assert!(pair[0].code < pair[1].code || pair[0].code.0.starts_with('E') && pair[1].code.0.starts_with('W'));
        }
        for info in ALL_CODES {
            assert!(info.explanation.starts_with(&format!("# {}", info.code)), "{} explanation header", info.code);
            assert!(info.explanation.contains("```cnn"), "{} explanation has an example", info.code);
        }
    }
}
