package redis

import (
	"context"

	"github.com/picocache/picocache/internal/redisstore"
	"github.com/redis/rueidis"
)

// client adapts rueidis to what the store's core calls on the server.
// rueidis ends every call at its context's deadline (the Store's bound),
// dial, wait for a connection and retries included.
type client struct{ c rueidis.Client }

// lua holds the store's scripts as rueidis runs them: EVALSHA, then EVAL
// when the server does not have the script.
var lua = func() (l [len(redisstore.Scripts)]*rueidis.Lua) {
	for _, sc := range redisstore.Scripts {
		l[sc] = rueidis.NewLuaScript(sc.Source())
	}
	return l
}()

func (c *client) Get(ctx context.Context, key string) ([]byte, bool, error) {
	// The reply's string is fresh and referenced by nothing else, so
	// AsBytes's view of it can be handed to the caller without a copy.
	v, err := c.c.Do(ctx, c.c.B().Get().Key(key).Build()).AsBytes()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return v, true, nil
}

func (c *client) Run(ctx context.Context, sc redisstore.Script, keys, args []string) (int64, error) {
	return lua[sc].Exec(ctx, c.c, keys, args).AsInt64()
}

func (c *client) RunList(ctx context.Context, sc redisstore.Script, keys, args []string) ([]string, error) {
	return lua[sc].Exec(ctx, c.c, keys, args).AsStrSlice()
}
