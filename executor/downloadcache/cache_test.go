package downloadcache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"code.cloudfoundry.org/lager/v3/lagertest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-runtime/diego/executor/downloadcache"
)

var _ = Describe("The download cache", func() {
	var (
		dir   string
		cache *downloadcache.Cache
		fills atomic.Int32
	)

	newCache := func(maxBytes int64) *downloadcache.Cache {
		return downloadcache.New(lagertest.NewTestLogger("cache"), dir, maxBytes)
	}

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		fills.Store(0)
		cache = newCache(1 << 20)
	})

	// content fills with the given text and counts its calls.
	content := func(text string) func(io.Writer) error {
		return func(w io.Writer) error {
			fills.Add(1)
			_, err := io.WriteString(w, text)
			return err
		}
	}

	// fetch reads a key through the cache and closes the reader.
	fetch := func(key string, fill func(io.Writer) error) string {
		GinkgoHelper()
		r, size, err := cache.Fetch(context.Background(), key, fill)
		Expect(err).NotTo(HaveOccurred())
		defer r.Close()
		data, err := io.ReadAll(r)
		Expect(err).NotTo(HaveOccurred())
		Expect(size).To(BeNumerically("==", len(data)))
		return string(data)
	}

	// onDisk lists the files the cache holds, complete or not.
	onDisk := func() []string {
		var names []string
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, strings.TrimPrefix(path, dir+"/"))
			}
			return nil
		})
		return names
	}

	It("fetches a key once and serves it from disk afterwards", func() {
		Expect(fetch("droplet-1", content("hello"))).To(Equal("hello"))
		Expect(fetch("droplet-1", content("not fetched again"))).To(Equal("hello"))
		Expect(fills.Load()).To(BeEquivalentTo(1))
		Expect(cache.Fetches()).To(Equal(1))
		Expect(onDisk()).To(HaveLen(1))
		Expect(onDisk()[0]).To(HavePrefix("entries/"))
		Expect(cache.Size()).To(BeEquivalentTo(5))
	})

	It("keeps different keys apart", func() {
		Expect(fetch("a", content("alpha"))).To(Equal("alpha"))
		Expect(fetch("b", content("beta"))).To(Equal("beta"))
		Expect(fetch("a", content("x"))).To(Equal("alpha"))
		Expect(fills.Load()).To(BeEquivalentTo(2))
	})

	It("leaves no entry and no file behind when a fill fails, and tries again next time", func() {
		_, _, err := cache.Fetch(context.Background(), "bad", func(w io.Writer) error {
			io.WriteString(w, "half of it")
			return errors.New("checksum mismatch")
		})
		Expect(err).To(MatchError("checksum mismatch"))
		Expect(cache.Contains("bad")).To(BeFalse())
		Expect(onDisk()).To(BeEmpty())
		Expect(cache.Size()).To(BeZero())
		Expect(fetch("bad", content("whole"))).To(Equal("whole"))
	})

	It("evicts the least recently used entries once over its bound", func() {
		cache = newCache(30)
		fetch("a", content("aaaaaaaaaa"))
		fetch("b", content("bbbbbbbbbb"))
		fetch("c", content("cccccccccc"))
		fetch("a", content("refetched!")) // a is now more recent than b
		fetch("d", content("dddddddddd"))
		Expect(cache.Contains("a")).To(BeTrue())
		Expect(cache.Contains("b")).To(BeFalse(), "b was least recently used")
		Expect(cache.Contains("c")).To(BeTrue())
		Expect(cache.Contains("d")).To(BeTrue())
		Expect(cache.Size()).To(BeEquivalentTo(30))
		Expect(onDisk()).To(HaveLen(3))
		Expect(fetch("b", content("bbbbbbbbbb"))).To(Equal("bbbbbbbbbb"))
		Expect(fills.Load()).To(BeEquivalentTo(5), "b was fetched again, a never")
	})

	It("does not delete an entry under its reader, and deletes it once the reader is done", func() {
		cache = newCache(10)
		held, _, err := cache.Fetch(context.Background(), "held", content("0123456789"))
		Expect(err).NotTo(HaveOccurred())
		fetch("other", content("abcdefghij"))
		Expect(cache.Contains("held")).To(BeTrue(), "it is being read")
		Expect(io.ReadAll(held)).To(Equal([]byte("0123456789")))
		Expect(held.Close()).To(Succeed())
		fetch("third", content("ABCDEFGHIJ"))
		Expect(cache.Contains("held")).To(BeFalse())
		Expect(cache.Size()).To(BeNumerically("<=", 10))
	})

	It("serves an artifact larger than its bound to its reader, and keeps nothing of it", func() {
		cache = newCache(4)
		Expect(fetch("big", content("larger than four bytes"))).To(Equal("larger than four bytes"))
		Expect(cache.Contains("big")).To(BeFalse())
		Expect(onDisk()).To(BeEmpty())
	})

	It("makes one fetch for many concurrent downloads of one key", func() {
		release := make(chan struct{})
		slow := func(w io.Writer) error {
			fills.Add(1)
			<-release
			_, err := io.WriteString(w, "shared artifact")
			return err
		}
		var wg sync.WaitGroup
		results := make(chan string, 20)
		for range 20 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				results <- fetch("one-key", slow)
			}()
		}
		Eventually(cache.Fetches).Should(Equal(1))
		time.Sleep(50 * time.Millisecond) // let the others reach the wait
		close(release)
		wg.Wait()
		close(results)
		for r := range results {
			Expect(r).To(Equal("shared artifact"))
		}
		Expect(fills.Load()).To(BeEquivalentTo(1))
	})

	It("gives concurrent waiters the fill's failure rather than fetching again", func() {
		release := make(chan struct{})
		failing := func(w io.Writer) error {
			fills.Add(1)
			<-release
			return errors.New("server answered 404 Not Found")
		}
		errs := make(chan error, 5)
		for range 5 {
			go func() {
				_, _, err := cache.Fetch(context.Background(), "missing", failing)
				errs <- err
			}()
		}
		Eventually(cache.Fetches).Should(Equal(1))
		time.Sleep(50 * time.Millisecond)
		close(release)
		for range 5 {
			Eventually(errs).Should(Receive(MatchError("server answered 404 Not Found")))
		}
		Expect(fills.Load()).To(BeEquivalentTo(1))
		Expect(onDisk()).To(BeEmpty())
	})

	It("lets a waiter fetch again itself when the fetching caller was cancelled", func() {
		ctx, cancel := context.WithCancel(context.Background())
		filling := make(chan struct{})
		firstErr := make(chan error, 1)
		go func() {
			_, _, err := cache.Fetch(ctx, "k", func(w io.Writer) error {
				close(filling)
				<-ctx.Done()
				return fmt.Errorf("GET: %w", ctx.Err())
			})
			firstErr <- err
		}()
		<-filling
		second := make(chan string, 1)
		go func() {
			defer GinkgoRecover()
			second <- fetch("k", content("second try"))
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		Eventually(firstErr).Should(Receive(MatchError(context.Canceled)))
		Eventually(second).Should(Receive(Equal("second try")))
	})

	It("stays within its bound and serves correct content under concurrent churn", func() {
		cache = newCache(64)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for i := range 50 {
					key := fmt.Sprintf("key-%d", (g*7+i)%12)
					want := strings.Repeat(key[len(key)-1:], 16)
					Expect(fetch(key, func(w io.Writer) error { _, err := io.WriteString(w, want); return err })).To(Equal(want))
				}
			}()
		}
		wg.Wait()
		Expect(cache.Size()).To(BeNumerically("<=", 64))
		Expect(len(onDisk())).To(BeNumerically("<=", 4))
	})

	It("serves what an earlier process left, and drops unfinished fills", func() {
		fetch("kept", content("from before"))
		Expect(os.WriteFile(filepath.Join(dir, "tmp", "leftover"), []byte("partial"), 0o600)).To(Succeed())

		cache = newCache(1 << 20)
		Expect(fetch("kept", content("fetched again"))).To(Equal("from before"))
		Expect(fills.Load()).To(BeEquivalentTo(1))
		Expect(filepath.Join(dir, "tmp", "leftover")).NotTo(BeAnExistingFile())
	})
})
