//! Media types guessed from file names, and a NUL sniff for binary content.

/// Extensions and their media types. Types marked textual are sniffed for NUL bytes.
const TYPES: &[(&str, &str)] = &[
    ("txt", "text/plain"),
    ("log", "text/plain"),
    ("md", "text/markdown"),
    ("markdown", "text/markdown"),
    ("csv", "text/csv"),
    ("tsv", "text/tab-separated-values"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("css", "text/css"),
    ("js", "text/javascript"),
    ("mjs", "text/javascript"),
    ("ts", "text/x-typescript"),
    ("tsx", "text/x-typescript"),
    ("jsx", "text/javascript"),
    ("py", "text/x-python"),
    ("rs", "text/x-rust"),
    ("go", "text/x-go"),
    ("java", "text/x-java"),
    ("kt", "text/x-kotlin"),
    ("c", "text/x-c"),
    ("h", "text/x-c"),
    ("cc", "text/x-c++"),
    ("cpp", "text/x-c++"),
    ("hpp", "text/x-c++"),
    ("cs", "text/x-csharp"),
    ("rb", "text/x-ruby"),
    ("php", "text/x-php"),
    ("swift", "text/x-swift"),
    ("sh", "text/x-shellscript"),
    ("bash", "text/x-shellscript"),
    ("sql", "text/x-sql"),
    ("diff", "text/x-diff"),
    ("patch", "text/x-diff"),
    ("toml", "application/toml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("json", "application/json"),
    ("jsonl", "application/jsonl"),
    ("xml", "application/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("ico", "image/vnd.microsoft.icon"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tgz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("wasm", "application/wasm"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("mp4", "video/mp4"),
];

/// The media type for a file name, if the extension is known.
pub fn from_name(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    TYPES.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t)
}

/// Whether a type is textual (so that NUL bytes make it binary).
pub fn is_textual(media_type: &str) -> bool {
    media_type.starts_with("text/")
        || media_type.ends_with("+xml")
        || ["application/json", "application/jsonl", "application/xml", "application/toml", "application/yaml"]
            .contains(&media_type)
}

/// How many leading bytes are sniffed.
pub const SNIFF_BYTES: usize = 8192;

/// The media type of a file from its name and (for textual or unknown types) its first
/// bytes: NUL bytes make it `application/octet-stream`; an unknown name without them is
/// `text/plain`.
pub fn classify(path: &str, head: Option<&[u8]>) -> &'static str {
    match from_name(path) {
        Some(t) if !is_textual(t) => t,
        guessed => match head {
            Some(bytes) if bytes.contains(&0) => "application/octet-stream",
            _ => guessed.unwrap_or("text/plain"),
        },
    }
}

/// Whether `media_type` is allowed by `allowed` (exact types, or prefixes ending in `/`).
pub fn allowed(media_type: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| if a.ends_with('/') { media_type.starts_with(a.as_str()) } else { a == media_type })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify("a/b/notes.MD", Some(b"# hi")), "text/markdown");
        assert_eq!(classify("data.json", Some(b"{\0}")), "application/octet-stream");
        assert_eq!(classify("Makefile", Some(b"all:\n")), "text/plain");
        assert_eq!(classify("blob", Some(b"\x7fELF\0\0")), "application/octet-stream");
        assert_eq!(classify("img.png", Some(b"\x89PNG\0")), "image/png");
        assert_eq!(classify(".hidden", None), "text/plain");
    }

    #[test]
    fn allows_types_and_prefixes() {
        let list = vec!["text/".to_owned(), "application/json".to_owned()];
        assert!(allowed("text/x-rust", &list));
        assert!(allowed("application/json", &list));
        assert!(!allowed("application/jsonl", &list));
        assert!(!allowed("image/png", &list));
    }
}
