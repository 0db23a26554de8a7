//! "Did you mean ...?" suggestions for misspelt keywords, modules and names.

/// The closest candidate to `input`, if one is close enough to be a plausible typo.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let input_lower = input.to_ascii_lowercase();
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    // `index` for `index_var`: a cut-short name is as plain a typo as a swapped letter.
    if input.len() >= 4 {
        if let Some(prefixed) = candidates
            .iter()
            .find(|c| c.to_ascii_lowercase().starts_with(&input_lower) && **c != input)
        {
            return Some(prefixed);
        }
    }
    candidates
        .into_iter()
        .map(|candidate| {
            (
                candidate,
                strsim::damerau_levenshtein(&input_lower, &candidate.to_ascii_lowercase()),
            )
        })
        .filter(|(candidate, distance)| {
            // Allow about one edit per three characters, and never more than three.
            let allowed = (candidate.len().max(input.len()) / 3).clamp(1, 3);
            *distance <= allowed
        })
        .min_by_key(|(_, distance)| *distance)
        .map(|(candidate, _)| candidate)
}

/// `did you mean 'x'?` or nothing.
pub fn hint<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(input, candidates).map(|candidate| format!("did you mean '{candidate}'?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let modules = ["lineinfile", "template", "copy", "command", "shell"];
        let cases = [
            ("linein_file", Some("lineinfile")),
            ("templte", Some("template")),
            ("comand", Some("command")),
            ("Copy", Some("copy")),
            ("frobnicate", None),
            ("x", None),
        ];
        for (input, expected) in cases {
            assert_eq!(did_you_mean(input, modules), expected, "input {input}");
        }
    }
}
