import asyncio
from tests.console import scenarios
from tests.console.test_app import app_for, started
from engine.clock import ManualClock
from console.app import DeskgateApp
orig = DeskgateApp._render_state
def patched(self):
    print("render", self._main.is_mounted, self.selected_intent_id)
    return orig(self)
DeskgateApp._render_state = patched
async def main():
    clock = ManualClock()
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        print("started", app.selected_intent_id)
        await pilot.pause(1.2)
        print(app.selected_intent_id)
asyncio.run(main())
