//! The fenced blocks of a Markdown page that a test runs: ```` ```sh run ```` is a shell
//! example, and a ```` ```http response ````, ```` ```json response ```` or
//! ```` ```text response ```` right after it is what it prints.

/// One fenced block.
#[derive(Debug, Clone)]
pub struct Block {
    /// Where it starts, for messages (`docs/api.md:120`).
    pub at: String,
    /// The info string's first word (`sh`, `http`, `json`, `text`).
    pub language: String,
    /// The other words (`run`, `response`).
    pub marks: Vec<String>,
    pub text: String,
}

impl Block {
    pub fn is(&self, mark: &str) -> bool {
        self.marks.iter().any(|m| m == mark)
    }
}

/// A runnable example and what it is documented to print, if anything.
#[derive(Debug)]
pub struct Example {
    pub run: Block,
    pub response: Option<Block>,
}

/// Every fenced block of `page`, in order. A fence closes on a line that is only
/// backticks, so fences inside a line (a prompt's `ccgate-script`) stay text.
pub fn blocks(name: &str, page: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(Block, Vec<&str>)> = None;
    for (number, line) in page.lines().enumerate() {
        let trimmed = line.trim();
        match open.take() {
            Some((mut block, lines)) if trimmed == "```" => {
                block.text = lines.join("\n");
                found.push(block);
            }
            Some((block, mut lines)) => {
                lines.push(line);
                open = Some((block, lines));
            }
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let mut words = info.split_whitespace().map(String::from);
                    let language = words.next().unwrap_or_default();
                    let block = Block {
                        at: format!("{name}:{}", number + 1),
                        language,
                        marks: words.collect(),
                        text: String::new(),
                    };
                    open = Some((block, Vec::new()));
                }
            }
        }
    }
    assert!(open.is_none(), "{name}: a fence is never closed");
    found
}

/// The runnable examples of `page`, each with the response block that follows it.
pub fn examples(name: &str, page: &str) -> Vec<Example> {
    let blocks = blocks(name, page);
    let mut examples: Vec<Example> = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        if block.is("run") {
            let next = blocks.get(index + 1).filter(|next| next.is("response")).cloned();
            examples.push(Example { run: block.clone(), response: next });
        } else if block.is("response") {
            let after_run = index > 0 && blocks[index - 1].is("run");
            assert!(after_run, "{}: a response block that follows no runnable one", block.at);
        }
    }
    examples
}

#[test]
fn runnable_blocks_and_their_responses_are_paired() {
    let page = "text\n\n```sh run\ncurl -d '{\"p\": \"a\\n```x\\n```\"}'\n```\n\n```json response\n{\"a\": 1}\n```\n\n\
                ```sh\nnot run\n```\n```sh run\ntrue\n```\n";
    let found = examples("page.md", page);
    assert_eq!(found.len(), 2);
    assert!(found[0].run.text.contains("```x"), "{:?}", found[0].run.text);
    assert_eq!(found[0].response.as_ref().map(|b| b.text.as_str()), Some("{\"a\": 1}"));
    assert_eq!(found[0].run.at, "page.md:3");
    assert!(found[1].response.is_none());
}
