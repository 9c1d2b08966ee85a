package sqlstore

// positional rewrites a query whose placeholders are $1, $2, … $n, each
// once and in that order, to plain ? placeholders, which bind the same
// arguments the same way. It matters for speed on SQLite: the driver looks
// every numbered parameter's name up in a list as long as the query's
// parameters, so binding n of them costs n² (a 20-column insert spent more
// time there than executing), while plain ? parameters have no names.
// Any other query — a placeholder used twice or out of order, or none — is
// returned as it is. Text inside quotes and comments is left alone.
func positional(q string) string {
	out := make([]byte, 0, len(q))
	next := 1
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				j++
			}
			if j >= len(q) {
				return q
			}
			out = append(out, q[i:j+1]...)
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := i
			for j < len(q) && q[j] != '\n' {
				j++
			}
			out = append(out, q[i:j]...)
			i = j - 1
		case c == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			j, n := i+1, 0
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				n = n*10 + int(q[j]-'0')
				j++
			}
			if n != next {
				return q
			}
			next++
			out = append(out, '?')
			i = j - 1
		default:
			out = append(out, c)
		}
	}
	if next == 1 {
		return q
	}
	return string(out)
}
