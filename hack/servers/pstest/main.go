// A local Google Cloud Pub/Sub server for the tests (hack/build-servers.sh
// builds it from cloud.google.com/go/pubsub's pstest package; hack/servers-up.sh
// runs it), and the small client the tests drive it with, on the same module.
//
//	pstest serve -listen 127.0.0.1:PORT
//	    the in-memory server, until SIGTERM or SIGINT
//	pstest publish -project P -topic T [-wait-subscription S]
//	    publishes each stdin line "KEY<TAB>DATA" in order, KEY as the ordering
//	    key (none when empty); creates T when missing; first waits (60 s at
//	    most) until subscription S exists, as a producer waits for its consumer
//	pstest pull -project P -subscription S [-topic T] -count N -timeout D
//	    creates S on T when -topic is given and S is missing, then receives
//	    (and acks) until N messages came or D passed, printing each as a JSON
//	    line {"data":...,"orderingKey":...,"attributes":{...},"deliveryAttempt":N}
//
// The client commands reach the server at $PUBSUB_EMULATOR_HOST, as every
// Pub/Sub client library (and so daprd's pubsub.gcp.pubsub component) does.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub"
	"cloud.google.com/go/pubsub/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("pstest: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: pstest serve|publish|pull [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "publish":
		err = publish(args)
	case "pull":
		err = pull(args)
	default:
		err = fmt.Errorf("unknown command %q: serve, publish or pull", cmd)
	}
	if err != nil {
		log.Fatalf("%s: %v", cmd, err)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	_ = fs.Parse(args)
	srv := pstest.NewServerWithAddress(*listen)
	log.Printf("listening on %s", srv.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return srv.Close()
}

// client connects to $PUBSUB_EMULATOR_HOST (refused when unset: never a real
// project).
func client(ctx context.Context, project string) (*pubsub.Client, error) {
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		return nil, errors.New("PUBSUB_EMULATOR_HOST is not set")
	}
	if project == "" {
		return nil, errors.New("-project is required")
	}
	return pubsub.NewClient(ctx, project)
}

func ensureTopic(ctx context.Context, c *pubsub.Client, id string) (*pubsub.Topic, error) {
	t, err := c.CreateTopic(ctx, id)
	if status.Code(err) == codes.AlreadyExists {
		return c.Topic(id), nil
	}
	return t, err
}

func publish(args []string) error {
	fs := flag.NewFlagSet("publish", flag.ExitOnError)
	project := fs.String("project", "", "project id")
	topicID := fs.String("topic", "", "topic id")
	waitSub := fs.String("wait-subscription", "", "subscription to wait for before publishing")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client(ctx, *project)
	if err != nil {
		return err
	}
	defer c.Close()
	topic, err := ensureTopic(ctx, c, *topicID)
	if err != nil {
		return fmt.Errorf("topic %s: %w", *topicID, err)
	}
	defer topic.Stop()
	if *waitSub != "" {
		deadline := time.Now().Add(60 * time.Second)
		for {
			ok, err := c.Subscription(*waitSub).Exists(ctx)
			if err != nil {
				return fmt.Errorf("subscription %s: %w", *waitSub, err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("subscription %s does not exist after 60 s", *waitSub)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	topic.EnableMessageOrdering = true
	var results []*pubsub.PublishResult
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 8<<20)
	for in.Scan() {
		key, data, ok := strings.Cut(in.Text(), "\t")
		if !ok {
			return fmt.Errorf("line %d: want KEY<TAB>DATA", len(results)+1)
		}
		results = append(results, topic.Publish(ctx, &pubsub.Message{Data: []byte(data), OrderingKey: key}))
	}
	if err := in.Err(); err != nil {
		return err
	}
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return fmt.Errorf("message %d: %w", i+1, err)
		}
	}
	log.Printf("published %d messages to %s", len(results), *topicID)
	return nil
}

func pull(args []string) error {
	fs := flag.NewFlagSet("pull", flag.ExitOnError)
	project := fs.String("project", "", "project id")
	subID := fs.String("subscription", "", "subscription id")
	topicID := fs.String("topic", "", "topic to create the subscription on when it is missing")
	count := fs.Int("count", 1, "messages to wait for (0: only create the subscription)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for them")
	_ = fs.Parse(args)
	ctx := context.Background()
	c, err := client(ctx, *project)
	if err != nil {
		return err
	}
	defer c.Close()
	sub := c.Subscription(*subID)
	if *topicID != "" {
		topic, err := ensureTopic(ctx, c, *topicID)
		if err != nil {
			return fmt.Errorf("topic %s: %w", *topicID, err)
		}
		_, err = c.CreateSubscription(ctx, *subID, pubsub.SubscriptionConfig{Topic: topic})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("subscription %s: %w", *subID, err)
		}
	}
	if *count <= 0 {
		return nil
	}
	rctx, stop := context.WithTimeout(ctx, *timeout)
	defer stop()
	var mu sync.Mutex
	got := 0
	out := json.NewEncoder(os.Stdout)
	err = sub.Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		mu.Lock()
		defer mu.Unlock()
		if got >= *count {
			m.Nack()
			return
		}
		m.Ack()
		got++
		attempt := 0
		if m.DeliveryAttempt != nil {
			attempt = *m.DeliveryAttempt
		}
		_ = out.Encode(map[string]any{"data": string(m.Data), "orderingKey": m.OrderingKey,
			"attributes": m.Attributes, "deliveryAttempt": attempt})
		if got >= *count {
			stop()
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
