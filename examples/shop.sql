-- Sample schema for docker-compose (run once at first start).
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, country text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, amount numeric(12,2),
                     status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
ALTER USER inlet WITH REPLICATION;
INSERT INTO customers (name, country) SELECT 'customer ' || g, (ARRAY['DE','FR','US','JP'])[1 + g % 4] FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, amount) SELECT 1 + g % 100, (g % 997) * 1.25 FROM generate_series(1, 1000) g;
