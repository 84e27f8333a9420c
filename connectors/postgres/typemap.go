package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// TypeMap answers, for a server's types, whether capture maps a column
// type natively. It uses the very mapping capture uses (mapColumn), so a
// preflight check (inlet check) cannot drift from what Open accepts.
type TypeMap struct{ types map[uint32]pgType }

// LoadTypeMap reads the server's pg_type.
func LoadTypeMap(ctx context.Context, conn *pgx.Conn) (*TypeMap, error) {
	types, err := loadTypes(ctx, conn)
	if err != nil {
		return nil, err
	}
	return &TypeMap{types: types}, nil
}

// Maps reports whether a column of type oid (with typmod) is captured
// without being listed in text_columns.
func (m *TypeMap) Maps(oid uint32, typmod int32) bool {
	_, err := mapColumn(m.types, conf.TableName{}, "", oid, typmod, nil)
	return err == nil
}
