//! `cnnc explain CODE`: the long explanation of one diagnostic code, or the list of codes.

pub(crate) fn run(code: Option<&str>) -> u8 {
    match code {
        None => {
            for info in cnn_diag::ALL_CODES {
                println!("{}  {}", info.code, info.title);
            }
            0
        }
        Some(text) => match cnn_diag::Code::parse(text) {
            Some(code) => {
                print!("{}", code.info().explanation);
                0
            }
            None => {
                eprintln!("error: `{text}` is not a cnnc diagnostic code; `cnnc explain` lists them");
                2
            }
        },
    }
}
