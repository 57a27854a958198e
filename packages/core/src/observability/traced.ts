/**
 * Spans that cost nothing when nobody records them.
 *
 * With no tracer installed, Effect still builds a span for every
 * `Effect.withSpan`: a no-op one when the tracer is disabled, but it is still
 * ended on exit and provided as the parent span, which copies the request's
 * whole service context (about 60 services). On a secret read that was a tenth
 * of the Effect operations and of the memory allocated per request
 * (docs/performance.md, "Read path").
 *
 * So the platform disables Effect's tracer unless a real one is installed
 * (`tracerWhenConsumed`, applied by AttestationApp.layer), and its services
 * wrap their operations with `traced(name)` instead of `Effect.withSpan`:
 * the same span when tracing is on, the bare effect when it is off.
 */
import { Effect, FiberRef, Layer, type Tracer } from "effect"

/** The tracer Effect uses when nobody installed one: its spans go nowhere. */
const defaultTracer = Effect.runSync(Effect.tracer)

/** `Effect.withSpan(name, options)` when spans are recorded; `self` unchanged otherwise. */
export const traced =
  (name: string, options?: Tracer.SpanOptions) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime<A, E, R>((fiber) =>
      fiber.getFiberRef(FiberRef.currentTracerEnabled) ? Effect.withSpan(self, name, options) : self
    )

/**
 * Keeps Effect's tracer enabled only when a tracer other than the default is
 * installed (an OpenTelemetry exporter given by an embedding application, say);
 * otherwise disables it for everything built after this layer.
 */
export const tracerWhenConsumed: Layer.Layer<never> = Layer.unwrapEffect(
  Effect.map(Effect.tracer, (tracer) => (tracer === defaultTracer ? Layer.setTracerEnabled(false) : Layer.empty))
)
