# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Turns docs/flowbpf.8.md into the troff (man macros, tbl) page flowbpf.8,
# so that the page has one source.  It knows the Markdown that file uses
# and nothing more: "#" title, "##" sections, "###" subsections,
# paragraphs, `code` and **bold**, definition lists (a term line, then
# ":   text" and lines indented by four), code blocks indented by four,
# and pipe tables.  Anything else would come out as plain text, so
# selftests/test_install.c renders the result and counts the warnings.
#
#   awk -v version=0.1.0 -v date=2026-01-01 -f docs/md2man.awk flowbpf.8.md

# Characters troff would take for its own: the escape character, and a
# control character at the start of a line.
function esc(s) {
	gsub(/\\/, "\\e", s)
	return s
}

function lead(s) {
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

# Code is set bold and its hyphens are minus signs, as options must be.
function inline(s,    out, code, start, len) {
	s = esc(s)
	out = ""
	while (match(s, /`[^`]*`/)) {
		start = RSTART
		len = RLENGTH
		code = substr(s, start + 1, len - 2)
		gsub(/-/, "\\-", code)
		out = out bold(substr(s, 1, start - 1)) "\\fB" code "\\fR"
		s = substr(s, start + len)
	}
	return out bold(s)
}

function bold(s) {
	while (match(s, /\*\*[^*]+\*\*/))
		s = substr(s, 1, RSTART - 1) "\\fB" \
		    substr(s, RSTART + 2, RLENGTH - 4) "\\fR" \
		    substr(s, RSTART + RLENGTH)
	return s
}

# Prints text that may span lines (a code span may cross a line break).
function emit(s,    n, i, parts) {
	n = split(s, parts, "\n")
	for (i = 1; i <= n; i++) {
		sub(/^[ \t]+/, "", parts[i])
		if (parts[i] != "")
			print lead(parts[i])
	}
}

function literal(s) {
	s = esc(s)
	gsub(/-/, "\\-", s)
	return lead(s)
}

function cells(line, arr,    n, i) {
	sub(/^\|/, "", line)
	sub(/\|[ \t]*$/, "", line)
	n = split(line, arr, "|")
	for (i = 1; i <= n; i++) {
		sub(/^[ \t]+/, "", arr[i])
		sub(/[ \t]+$/, "", arr[i])
	}
	return n
}

# A pipe table as tbl: a bold header, the last column a text block that
# fills what the others leave of the line.
function table(first, last,    n, i, j, k, c, fmt, row, hdr) {
	n = cells(L[first], hdr)
	cells(L[first + 1], c)
	fmt = ""
	for (i = 1; i <= n; i++) {
		a = (c[i] ~ /^:.*:$/) ? "c" : "l"
		fmt = fmt (i > 1 ? " " : "") (i == n ? a "x" : a)
	}
	print ".TS"
	print "tab(\t);"
	row = ""
	for (i = 1; i <= n; i++)
		row = row (i > 1 ? " " : "") "lB"
	print row
	print fmt "."
	row = ""
	for (i = 1; i <= n; i++)
		row = row (i > 1 ? "\t" : "") inline(hdr[i])
	print row
	for (j = first + 2; j <= last; j++) {
		k = cells(L[j], c)
		row = ""
		for (i = 1; i < n; i++)
			row = row inline(c[i]) "\t"
		print row "T{"
		print ".ad l"
		print lead(inline(n <= k ? c[n] : ""))
		print "T}"
	}
	print ".TE"
}

# A paragraph macro, except right after a heading, which starts one.
function para() {
	if (!heading)
		print ".PP"
	heading = 0
}

function indented(s) {
	return s ~ /^    /
}

{ L[++N] = $0 }

END {
	i = 1
	while (i <= N) {
		line = L[i]
		if (line ~ /^[ \t]*$/) {
			i++
		} else if (line ~ /^# /) {
			title = line
			sub(/^# /, "", title)
			sub(/\(.*/, "", title)
			sect = line
			sub(/^[^(]*\(/, "", sect)
			sub(/\).*/, "", sect)
			print "'\\\" t"
			print ".TH " toupper(title) " " sect " \"" date "\" \"flowbpf " \
			      version "\" \"System Administration\""
			i++
		} else if (line ~ /^## /) {
			sub(/^## /, "", line)
			print ".SH \"" line "\""
			insection = line
			heading = 1
			i++
		} else if (line ~ /^### /) {
			sub(/^### /, "", line)
			print ".SS \"" inline(line) "\""
			heading = 1
			i++
		} else if (line ~ /^\|/) {
			for (j = i; j < N && L[j + 1] ~ /^\|/; j++)
				;
			heading = 0
			table(i, j)
			i = j + 1
		} else if (indented(line)) {
			# A code block runs to the next line that is not
			# indented; blank lines within it are kept.
			for (j = i; j < N && (indented(L[j + 1]) ||
			     L[j + 1] ~ /^[ \t]*$/); j++)
				;
			while (L[j] ~ /^[ \t]*$/)
				j--
			para()
			print ".RS 4"
			print ".nf"
			for (k = i; k <= j; k++) {
				s = L[k]
				sub(/^    /, "", s)
				print literal(s)
			}
			print ".fi"
			print ".RE"
			i = j + 1
		} else if (i < N && L[i + 1] ~ /^:   /) {
			heading = 0
			print ".TP"
			emit(inline(line))
			text = L[i + 1]
			sub(/^:   /, "", text)
			for (j = i + 2; j <= N && indented(L[j]); j++)
				text = text "\n" L[j]
			emit(inline(text))
			i = j
		} else {
			text = line
			for (j = i + 1; j <= N && L[j] !~ /^[ \t]*$/ &&
			     L[j] !~ /^(#|\|)/ && !(j < N && L[j + 1] ~ /^:   /);
			     j++)
				text = text "\n" L[j]
			text = inline(text)
			if (insection == "NAME")
				sub(/ - /, " \\- ", text)
			para()
			emit(text)
			i = j
		}
	}
}
