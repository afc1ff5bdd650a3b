//! Plain-text tables for `--output table`: left-aligned columns separated by two spaces.

/// Renders `rows` under `headers`. Widths count characters, which is right for the NFC Vietnamese text the
/// register holds (every letter is one precomposed character).
pub(crate) fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.chars().count()).collect();
    for row in rows {
        assert_eq!(row.len(), headers.len(), "a table row has one cell per column");
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header_cells: Vec<String> = headers.iter().map(|header| header.to_string()).collect();
    for row in std::iter::once(&header_cells).chain(rows) {
        let mut line = String::new();
        for (idx, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if idx > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Renders key/value lines, keys padded to one width.
pub(crate) fn render_pairs(pairs: &[(String, String)]) -> String {
    let width = pairs.iter().map(|(key, _)| key.chars().count()).max().unwrap_or(0);
    let mut text = String::new();
    for (key, value) in pairs {
        let padding = width - key.chars().count();
        text.push_str(&format!("{key}{}  {value}\n", " ".repeat(padding)));
    }
    text
}

/// A list of numbers as `1,2,3`.
pub(crate) fn join_ids(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_characters() {
        let rows = vec![
            vec!["001".to_string(), "Hà Nội".to_string(), "1".to_string()],
            vec!["079".to_string(), "Hồ Chí Minh".to_string(), "12".to_string()],
        ];
        let text = render(&["CODE", "NAME", "N"], &rows);
        assert_eq!(text, "CODE  NAME         N\n001   Hà Nội       1\n079   Hồ Chí Minh  12\n");
    }

    #[test]
    fn pairs_align() {
        let pairs = vec![("id".to_string(), "1".to_string()), ("full_name".to_string(), "An".to_string())];
        assert_eq!(render_pairs(&pairs), "id         1\nfull_name  An\n");
    }
}
