package change

// Widens reports whether a column's type may change from old to next in
// place, keeping every value it held: the one schema-change policy the
// sinks share (docs/schema-changes.md). Integers and floats widen, a
// decimal may gain integer digits and scale, and a date may become a
// timestamp. Anything else (text to int, narrowing, a key column) is
// incompatible: the table is quarantined with the fix.
func Widens(old, next Column) bool {
	if old.Key || next.Key || old.Kind == Array || next.Kind == Array {
		return false
	}
	rank := map[Kind]int{Int16: 1, Int32: 2, Int64: 3}
	switch {
	case rank[old.Kind] > 0 && rank[next.Kind] > 0:
		return rank[next.Kind] > rank[old.Kind]
	case old.Kind == Float32 && next.Kind == Float64:
		return true
	case old.Kind == Decimal && next.Kind == Decimal:
		if old.Precision == 0 || next.Precision == 0 {
			return old.Precision == 0 && next.Precision == 0 || next.Precision == 0
		}
		return next.Scale >= old.Scale && next.Precision-next.Scale >= old.Precision-old.Scale
	case old.Kind == Date && next.Kind == Timestamp:
		return true
	}
	return false
}
